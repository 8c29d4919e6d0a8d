import { mkdir, readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { readSmallFile, writeFileAtomic } from '../state/durable-file';

/**
 * The outbox lives in generations: `<root>/g<N>/` is a journal, `<root>/CURRENT` names the live one.
 * Compaction writes generation N+1 completely, then switches CURRENT atomically, then deletes N; a
 * crash at any point leaves exactly one complete generation named by CURRENT (the other is removed
 * at the next start).
 */
const CURRENT = 'CURRENT';
const GEN_RE = /^g(\d{1,9})$/;

export function generationDir(root: string, gen: number): string {
  return path.join(root, `g${gen}`);
}

/** The live generation (creating generation 1 on first use); leftovers of others are removed. */
export async function openGeneration(root: string, warn: (msg: string, details: object) => void): Promise<number> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const existing = await listGenerations(root);
  let gen = await readCurrent(root);
  if (gen === undefined || !existing.includes(gen)) {
    const fallback = existing.length > 0 ? Math.max(...existing) : 1;
    if (existing.length > 0)
      warn('outbox: CURRENT missing or naming no generation; using the newest one', { current: gen, using: fallback });
    gen = fallback;
    await commitGeneration(root, gen);
  }
  for (const other of existing) if (other !== gen) await removeGeneration(root, other);
  return gen;
}

/** Durably makes `gen` the live generation. */
export async function commitGeneration(root: string, gen: number): Promise<void> {
  await writeFileAtomic(path.join(root, CURRENT), `${gen}\n`);
}

export async function removeGeneration(root: string, gen: number): Promise<void> {
  await rm(generationDir(root, gen), { recursive: true, force: true });
}

async function readCurrent(root: string): Promise<number | undefined> {
  const buf = await readSmallFile(path.join(root, CURRENT), 32).catch(() => undefined);
  const m = buf
    ?.toString('utf8')
    .trim()
    .match(/^(\d{1,9})$/);
  return m ? Number(m[1]) : undefined;
}

async function listGenerations(root: string): Promise<number[]> {
  const names = await readdir(root);
  return names
    .map((n) => GEN_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}
