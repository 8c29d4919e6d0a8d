import { EMPTY_JOURNAL, failureLine, formatSummary, REPLAY_EXIT } from './replay-report';

describe('replay report', () => {
  it('prints one line per journal with what was found, applied, already applied and quarantined', () => {
    const text = formatSummary({
      dataDir: '/var/lib/jr-a',
      journals: {
        intake: { ...EMPTY_JOURNAL, present: true, found: 12, applied: 10, alreadyApplied: 2, tornBytes: 37 },
        results: EMPTY_JOURNAL,
      },
    });
    expect(text.split('\n')).toEqual([
      'jr-api journal replay: /var/lib/jr-a',
      '  intake   12 found, 10 applied, 2 already applied, 0 quarantined, torn tail of 37 bytes kept in quarantine/',
      '  results  no journal',
      'every record is applied or quarantined: the directory can be archived',
      '',
    ]);
  });

  it('counts fenced results only for the results journal', () => {
    const text = formatSummary({
      dataDir: 'd',
      journals: {
        intake: { ...EMPTY_JOURNAL, present: true },
        results: { ...EMPTY_JOURNAL, present: true, found: 3, applied: 2, fenced: 1 },
      },
    });
    expect(text).toContain('  intake   0 found, 0 applied, 0 already applied, 0 quarantined\n');
    expect(text).toContain('  results  3 found, 2 applied, 0 already applied, 1 fenced, 0 quarantined\n');
  });

  it('classifies failures by code: in use 75, damaged journal 65, anything else 1', () => {
    expect(
      failureLine(Object.assign(new Error('JR_DATA_DIR d is in use by jr-api pid 7'), { code: 'DATA_DIR_IN_USE' })),
    ).toEqual({ code: REPLAY_EXIT.IN_USE, line: 'refused: JR_DATA_DIR d is in use by jr-api pid 7' });
    expect(failureLine({ code: 'JOURNAL_CORRUPT', name: 'JournalCorruptError', message: 'bad crc' }).code).toBe(65);
    expect(failureLine(new Error('boom'))).toEqual({ code: 1, line: 'failed: boom' });
    expect(new Set(Object.values(REPLAY_EXIT)).size).toBe(Object.keys(REPLAY_EXIT).length);
  });
});
