/**
 * Child process for the crash test: appends forever with `concurrency` appends in flight and prints
 * `ACK <lsn> <round> <n>` the moment each append resolves (synchronous write to the stdout pipe), and
 * `CP <lsn>` after each checkpoint resolves. The parent SIGKILLs it mid-burst.
 * Usage: node child.js <dir> <round> [concurrency]
 */
import { writeSync } from 'node:fs';
import { Journal } from '@jr/journal';

/** The data of append `n` of `round` (sizes vary so batches straddle segment boundaries). */
export function payload(round: number, n: number): Buffer {
  return Buffer.from(`${round}:${n}:${'x'.repeat((n * 7919) % 700)}`);
}

async function main(): Promise<void> {
  const [dir, roundArg, concurrencyArg] = process.argv.slice(2);
  if (dir === undefined || roundArg === undefined) throw new Error('usage: child <dir> <round> [concurrency]');
  const round = Number(roundArg);
  const journal = await Journal.open({
    dir,
    segmentMaxBytes: 64 * 1024,
    logger: { warn: (m, d) => writeSync(2, `${m} ${JSON.stringify(d)}\n`) },
  });
  writeSync(1, `OPEN ${journal.lastLsn} ${journal.checkpointLsn}\n`);
  let next = 0;
  let acked = 0;
  let checkpointing = false;
  const maybeCheckpoint = (): void => {
    if (checkpointing || acked % 400 !== 0) return;
    checkpointing = true;
    const target = Math.max(0, journal.lastLsn - 300);
    journal
      .checkpoint(target)
      .then(() => writeSync(1, `CP ${target}\n`))
      .catch((err: unknown) => fail(err))
      .finally(() => (checkpointing = false));
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      const lsn = await journal.append(payload(round, n));
      writeSync(1, `ACK ${lsn} ${round} ${n}\n`);
      acked += 1;
      maybeCheckpoint();
    }
  };
  await Promise.all(Array.from({ length: Number(concurrencyArg ?? 64) }, () => worker()));
}

function fail(err: unknown): void {
  writeSync(2, `child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(3);
}

if (require.main === module) main().catch(fail);
