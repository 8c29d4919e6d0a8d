import { execFileSync } from 'node:child_process';
import { Journal, JournalFailedError, JournalFullError } from '@jr/journal';
import { layout, readAll, removeDir, tempDir } from '../../../libs/journal/src/testing/journal-fixtures';

/**
 * A write that fails with something other than ENOSPC, and whose rollback fails too: the active
 * segment is made immutable (`chattr +i`, root with CAP_LINUX_IMMUTABLE on ext4/xfs), so both the
 * write and the truncate back to the batch start fail with EPERM.
 */
function chattr(flag: '+i' | '-i', path: string): boolean {
  try {
    execFileSync('chattr', [flag, path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('journal after a write error it cannot roll back', () => {
  let dir: string;
  let frozen: string | null = null;
  beforeEach(async () => {
    dir = await tempDir('jr-journal-wf-');
  });
  afterEach(async () => {
    if (frozen !== null) chattr('-i', frozen);
    frozen = null;
    await removeDir(dir);
  });

  it('passes the write error through, then refuses appends with JournalFailedError until reopened', async () => {
    const journal = await Journal.open({ dir, logger: { warn: () => undefined } });
    for (const s of ['a', 'b', 'c']) await journal.append(Buffer.from(s));
    const active = (await layout(dir)).at(-1)!.path;
    if (!chattr('+i', active)) {
      console.warn(
        'journal write-failure test: chattr +i not permitted here; the rollback-failure path is not exercised',
      );
      await journal.close();
      return;
    }
    frozen = active;

    expect(journal.failure).toBeNull();
    const first = await journal.append(Buffer.from('d')).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'EPERM' }); // "the error otherwise": not disguised as JournalFullError
    expect(first).not.toBeInstanceOf(JournalFullError);
    const later = await journal.append(Buffer.from('e')).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(JournalFailedError);
    expect(later).toMatchObject({ code: 'JOURNAL_FAILED' });
    expect(journal.failure).toBe(later);
    expect(journal.lastLsn).toBe(3);
    expect((await readAll(journal)).map((r) => r.data.toString())).toEqual(['a', 'b', 'c']);

    chattr('-i', active);
    frozen = null;
    await journal.close();
    const reopened = await Journal.open({ dir });
    expect(reopened.lastLsn).toBe(3);
    expect(await reopened.append(Buffer.from('d'))).toBe(4);
    expect((await readAll(reopened)).map((r) => r.data.toString())).toEqual(['a', 'b', 'c', 'd']);
    await reopened.close();
  });
});
