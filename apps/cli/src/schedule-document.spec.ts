import { InvalidArgumentError } from 'commander';
import { UsageError } from './cli-error';
import {
  buildScheduleDocument,
  parseCatchupWindow,
  parseScheduleRef,
  validateScheduleDocument,
  type ScheduleSources,
} from './schedule-document';

const cron = (over: Partial<ScheduleSources> = {}): ScheduleSources => ({
  command: ['true'],
  flags: { name: 'n', cron: '* * * * *' },
  jobFlags: {},
  ...over,
});

describe('buildScheduleDocument', () => {
  it('a flag trigger replaces either trigger of the file', () => {
    const file = { name: 'f', rrule: 'FREQ=DAILY', job: { steps: [{ run: 'x' }] } };
    expect(buildScheduleDocument(cron({ file, command: [] }))).toEqual({
      name: 'n',
      cron: '* * * * *',
      job: { steps: [{ run: 'x' }] },
    });
    const fromFile = buildScheduleDocument({ file, command: [], flags: {}, jobFlags: {} });
    expect(fromFile).toEqual(file);
  });

  it('merges --catchup and --catchup-window over the file; a window needs a policy from somewhere', () => {
    const file = {
      name: 'f',
      cron: '* * * * *',
      catchup: { policy: 'all', window: '1d' },
      job: { steps: [{ run: 'x' }] },
    };
    const doc = buildScheduleDocument({ file, command: [], flags: { catchupWindow: '6h' }, jobFlags: {} });
    expect(doc.catchup).toEqual({ policy: 'all', window: '6h' });
    expect(() => buildScheduleDocument(cron({ flags: { name: 'n', cron: '* * * * *', catchupWindow: '6h' } }))).toThrow(
      UsageError,
    );
  });

  it('takes the job once: file, --job-file or command', () => {
    const file = { name: 'f', cron: '* * * * *', job: { steps: [{ run: 'x' }] } };
    expect(() => buildScheduleDocument(cron({ file }))).toThrow(/give the job once/);
    expect(() => buildScheduleDocument(cron({ jobFile: { steps: [{ run: 'y' }] } }))).toThrow(/give the job once/);
    const fromJobFile = buildScheduleDocument(cron({ command: [], jobFile: { steps: [{ run: 'y' }] } }));
    expect(fromJobFile.job).toEqual({ steps: [{ run: 'y' }] });
    const shell = buildScheduleDocument(cron({ command: [], jobFlags: { shell: 'make | tee log' } }));
    expect(shell.job).toEqual({ steps: [{ run: 'make | tee log' }] });
  });

  it('refuses a file that is not a mapping, and a job in it that is not one', () => {
    expect(() => buildScheduleDocument(cron({ file: ['a'], command: [] }))).toThrow(/must hold a mapping/);
    expect(() => buildScheduleDocument(cron({ file: { job: 'make' }, command: [] }))).toThrow(/must be a mapping/);
  });
});

describe('validateScheduleDocument', () => {
  it('names problems of the job under job. and leaves the rest to the API', () => {
    expect(() => validateScheduleDocument({ name: 'n', cron: 'junk', job: { steps: [] } })).toThrow(
      expect.objectContaining({ details: [expect.stringMatching(/^ {2}job\.steps: /)] }),
    );
    expect(JSON.parse(validateScheduleDocument({ name: 'n', cron: 'junk', job: { steps: [{ run: 'x' }] } }))).toEqual({
      name: 'n',
      cron: 'junk',
      job: { steps: [{ run: 'x' }] },
    });
  });

  it('refuses a missing job as job', () => {
    expect(() => validateScheduleDocument({ name: 'n', cron: '* * * * *' })).toThrow(
      expect.objectContaining({ details: [expect.stringMatching(/^ {2}job: /)] }),
    );
  });
});

describe('argument parsers', () => {
  it('schedule refs: ids or names up to 128 characters, nothing unprintable', () => {
    expect(parseScheduleRef('nightly build (eu)')).toBe('nightly build (eu)');
    for (const bad of ['', 'a\nb', 'x'.repeat(129), 'esc\u001b'])
      expect(() => parseScheduleRef(bad)).toThrow(InvalidArgumentError);
  });

  it('catch-up windows are positive durations', () => {
    expect(parseCatchupWindow(' 6h ')).toBe('6h');
    for (const bad of ['0', 'soon', '-1h']) expect(() => parseCatchupWindow(bad)).toThrow(InvalidArgumentError);
  });
});
