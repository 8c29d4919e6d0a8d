/** What the drill reads back from the final primary: which acknowledged jobs it holds, finished, started twice. */
import type { Site } from './site';

export interface Rerun {
  job: string;
  attempts: Array<{ n: number; state: string; reason: string | null; startedAtMs: number | null; after?: string }>;
}

/** Ids (own or an alias's) of these jobs that the site's database does not hold. */
export async function missingIn(site: Site, ids: string[]): Promise<string[]> {
  const rows = await site.sql<{ id: string }>(
    `SELECT x.id FROM unnest($1::text[]) AS x(id)
      WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = x.id)
        AND NOT EXISTS (SELECT 1 FROM job_aliases l WHERE l.id = x.id)`,
    [ids],
    'jobrunner',
  );
  return rows.map((r) => r.id);
}

export async function finishedIn(site: Site, ids: string[]): Promise<number> {
  const rows = await site
    .sql<{ n: string }>(
      `SELECT count(*) AS n FROM unnest($1::text[]) AS x(id)
         JOIN jobs j ON j.id = x.id OR j.id = (SELECT l.job_id FROM job_aliases l WHERE l.id = x.id)
        WHERE j.state IN ('succeeded','failed','cancelled','timed_out')`,
      [ids],
      'jobrunner',
    )
    .catch(() => [{ n: '0' }]);
  return Number(rows[0]?.n ?? 0);
}

/** Start times (epoch ms, ascending) of every attempt of these jobs. */
export async function attemptStarts(site: Site, ids: string[]): Promise<number[]> {
  const rows = await site.sql<{ ms: string }>(
    `SELECT (extract(epoch FROM started_at) * 1000)::bigint AS ms FROM attempts
      WHERE job_id = ANY($1::text[]) AND started_at IS NOT NULL ORDER BY started_at`,
    [ids],
    'jobrunner',
  );
  return rows.map((r) => Number(r.ms));
}

/** Jobs of these whose process started more than once, with each attempt's end (to tell which switch did it). */
export async function reruns(site: Site, ids: string[]): Promise<Rerun[]> {
  const rows = await site.sql<{ job_id: string; attempts: Rerun['attempts'] }>(
    `SELECT job_id, json_agg(json_build_object('n', n, 'state', state, 'reason', reason,
              'startedAtMs', (extract(epoch FROM started_at) * 1000)::bigint) ORDER BY n) AS attempts
       FROM attempts WHERE job_id = ANY($1::text[])
      GROUP BY job_id HAVING count(*) FILTER (WHERE started_at IS NOT NULL) > 1`,
    [ids],
    'jobrunner',
  );
  return rows.map((r) => ({ job: r.job_id, attempts: r.attempts }));
}
