import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Pool } from 'pg';

/** apps/api/migrations, from both src/database and dist/database. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');
const MIGRATION_FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
/** Arbitrary but fixed: every replica serialises its migrations on this key. */
const MIGRATION_LOCK_KEY = 0x6a72_6d69;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = MIGRATION_FILE_RE.exec(file);
    if (!m) throw new Error(`migration file name must be NNN_name.sql: ${file}`);
    out.push({ version: Number(m[1]), name: m[2] as string, sql: await fs.readFile(path.join(dir, file), 'utf8') });
  }
  return out;
}

/** Applies pending migrations in order, in one transaction, under an advisory lock. Returns the versions applied. */
export async function migrate(pool: Pool, migrations: Migration[]): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(done.rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      ran.push(m.version);
    }
    await client.query('COMMIT');
    return ran;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
