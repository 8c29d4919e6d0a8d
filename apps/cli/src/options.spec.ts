import { InvalidArgumentError } from 'commander';
import {
  collect,
  parseDurationFlag,
  parseEnv,
  parseId,
  parseIdempotencyKey,
  parseLabel,
  parseLimit,
  parsePool,
  parseRetries,
  parseState,
  parseTimeoutFlag,
} from './options';

describe('label and env pairs', () => {
  it('splits at the first =, values may contain = and be empty', () => {
    expect(parseLabel('os=linux')).toEqual(['os', 'linux']);
    expect(parseLabel('gpu=')).toEqual(['gpu', '']);
    expect(parseEnv('OPTS=a=b c')).toEqual(['OPTS', 'a=b c']);
    expect(parseEnv('MULTI=line1\nline2')).toEqual(['MULTI', 'line1\nline2']);
  });

  it.each([
    ['=x', 'empty'],
    ['novalue', 'expected'],
    ['', 'expected'],
    ['a b=c', 'spaces'],
    ['k\x1b=v', 'control'],
    ['k=v\x1b[2J', 'control'],
    ['k=\0', 'control'],
  ])('refuses label %j', (value, message) => {
    expect(() => parseLabel(value)).toThrow(InvalidArgumentError);
    expect(() => parseLabel(value)).toThrow(message);
  });

  it.each([
    ['A=B\0', 'NUL'],
    ['=x', 'empty'],
    ['1BAD=x', 'letters'],
    ['A-B=x', 'letters'],
    ['A', 'expected'],
    ['A\0=x', 'control'],
  ])('refuses env %j', (value, message) => {
    expect(() => parseEnv(value)).toThrow(message);
  });

  it('accumulates repeated flags in order', () => {
    const add = collect(parseLabel);
    expect(add('b=2', add('a=1', undefined))).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });
});

describe('durations and numbers', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['250ms', 250],
    ['30', 30_000],
  ])('reads %s', (value, ms) => {
    expect(parseDurationFlag(value)).toBe(ms);
  });

  it.each(['', 'soon', '0', '0s', '-5s', '5 minutes', '8d', '1e9', 'NaN', '90s; rm -rf /'])(
    'refuses duration %j',
    (value) => {
      expect(() => parseDurationFlag(value)).toThrow(InvalidArgumentError);
    },
  );

  it('sends the job timeout as written', () => {
    expect(parseTimeoutFlag(' 10m ')).toBe('10m');
  });

  it('bounds retries and limits', () => {
    expect(parseRetries('0')).toBe(0);
    expect(parseRetries('10')).toBe(10);
    for (const bad of ['-1', '11', '1.5', 'two', '', '0x3'])
      expect(() => parseRetries(bad)).toThrow(InvalidArgumentError);
    expect(parseLimit('500')).toBe(500);
    for (const bad of ['0', '501', '99999999999']) expect(() => parseLimit(bad)).toThrow(InvalidArgumentError);
  });
});

describe('other flags', () => {
  it('checks states, pools, keys and ids', () => {
    expect(parseState('timed_out')).toBe('timed_out');
    expect(() => parseState('done')).toThrow(InvalidArgumentError);
    expect(parsePool('gpu-2')).toBe('gpu-2');
    for (const bad of ['GPU', 'a:b', 'has space', '']) expect(() => parsePool(bad)).toThrow(InvalidArgumentError);
    expect(parseIdempotencyKey('deploy-42')).toBe('deploy-42');
    for (const bad of ['', 'has space', 'x'.repeat(201), 'a\r\nInjected: 1'])
      expect(() => parseIdempotencyKey(bad)).toThrow(InvalidArgumentError);
    expect(parseId('j_0123')).toBe('j_0123');
    for (const bad of ['', 'x'.repeat(129), 'j_1\n', 'a b']) expect(() => parseId(bad)).toThrow(InvalidArgumentError);
  });
});
