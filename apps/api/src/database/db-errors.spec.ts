import { BadRecordError, isBadData, isDependencyDown } from './db-errors';

const pgError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('isDependencyDown / isBadData', () => {
  it.each([
    ['25006', 'read-only transaction (a hot standby, a read-only database)'],
    ['25P02', 'in failed transaction'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['08006', 'connection failure'],
    ['53100', 'disk full'],
    ['53300', 'too many connections'],
    ['57P01', 'admin shutdown'],
    ['57014', 'statement timeout'],
  ])('SQLSTATE %s (%s) means "retry later", never bad data', (code) => {
    expect(isDependencyDown(pgError(code))).toBe(true);
    expect(isBadData(pgError(code))).toBe(false);
  });

  it('a read-only refusal is an outage even without its code', () => {
    expect(isDependencyDown(new Error('cannot execute INSERT in a read-only transaction'))).toBe(true);
  });

  it.each([
    ['22P02', 'invalid text representation'],
    ['22P05', 'untranslatable character (\\u0000 in jsonb)'],
    ['22021', 'invalid byte sequence (NUL in text)'],
    ['22008', 'datetime field overflow'],
    ['23502', 'not null violation'],
  ])('SQLSTATE %s (%s) is bad data', (code) => {
    expect(isBadData(pgError(code))).toBe(true);
    expect(isDependencyDown(pgError(code))).toBe(false);
  });

  it('a record found malformed is bad data; socket errors are outages; a bug is neither', () => {
    expect(isBadData(new BadRecordError('step 9 of 2'))).toBe(true);
    expect(isDependencyDown(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isBadData(new TypeError('x is undefined'))).toBe(false);
    expect(isDependencyDown(new TypeError('x is undefined'))).toBe(false);
    expect(isBadData(pgError('42P01'))).toBe(false); // undefined table: a deployment problem, not this record's fault
  });
});
