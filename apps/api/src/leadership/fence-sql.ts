import type { Tx } from '../database/transaction';
import { LEADER_TIMING, type Fence } from './leader-lease';

export type { Fence } from './leader-lease';

/**
 * Inside a singleton duty's transaction, first: true while the duty's epoch is still the fence's. The
 * epoch row is share-locked until COMMIT, so the next leader's epoch (an UPDATE of that row) begins after
 * this transaction, never while it writes. The transaction's idle timeout bounds how long a session cut
 * off mid-transaction can hold that lock.
 */
export async function holdsFence(tx: Tx, fence: Fence): Promise<boolean> {
  const res = await tx.query<{ held: number | null }>(
    `SELECT set_config('idle_in_transaction_session_timeout', $3, true),
       (SELECT 1 FROM leadership WHERE duty = $1 AND epoch = $2 FOR SHARE) AS held`,
    [fence.duty, fence.epoch, String(LEADER_TIMING.serverIdleTimeoutMs)],
  );
  return res.rows[0]?.held === 1;
}

/**
 * The same check as a condition of one statement (`$duty`, `$epoch`: its parameter numbers): the statement
 * changes nothing unless the fence's epoch is the duty's; the share lock lasts until the statement commits.
 */
export function fenceCondition(dutyParam: number, epochParam: number): string {
  return `EXISTS (SELECT 1 FROM leadership WHERE duty = $${dutyParam} AND epoch = $${epochParam} FOR SHARE)`;
}
