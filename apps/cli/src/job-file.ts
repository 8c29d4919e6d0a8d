import { promises as fs } from 'node:fs';
import { LIMITS } from '@jr/contracts';
import { parseDocument } from 'yaml';
import { UsageError } from './cli-error';
import type { InStream } from './output';

const MAX_ALIASES = 100;

/** Reads a job file (`-` = stdin) within the body limit and parses it (JSON for *.json, else YAML). */
export async function readJobFile(path: string, stdin: InStream | undefined): Promise<unknown> {
  const text = path === '-' ? await readStdin(stdin) : await readFile(path);
  return parseJobText(text.replace(/^\uFEFF/, ''), path === '-' ? 'stdin' : path, path.toLowerCase().endsWith('.json'));
}

async function readFile(path: string): Promise<string> {
  let size: number;
  try {
    const stat = await fs.stat(path);
    if (!stat.isFile()) throw new UsageError(`${path}: not a regular file`);
    size = stat.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > LIMITS.maxBodyBytes) throw tooLarge(path, size);
  const buffer = await fs.readFile(path);
  if (buffer.length > LIMITS.maxBodyBytes) throw tooLarge(path, buffer.length);
  return buffer.toString('utf8');
}

async function readStdin(stdin: InStream | undefined): Promise<string> {
  if (!stdin) throw new UsageError('no standard input to read the job from');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    total += buf.length;
    if (total > LIMITS.maxBodyBytes) throw tooLarge('stdin', total);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(what: string, bytes: number): UsageError {
  return new UsageError(
    `${what}: the job file is over the ${LIMITS.maxBodyBytes / 1024} KiB limit (${bytes} bytes or more)`,
  );
}

/** Parses job text; a syntax error becomes `<source>:<line>:<col>: <reason>` (exit 64). */
export function parseJobText(text: string, source: string, asJson: boolean): unknown {
  return asJson ? parseJson(text, source) : parseYaml(text, source);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message;
    const pos = /position (\d+)/.exec(message);
    const where = pos ? lineCol(text, Number(pos[1])) : { line: 1, col: 1 };
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '');
    throw new UsageError(`${source}:${where.line}:${where.col}: malformed JSON: ${reason}`);
  }
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, version: '1.2' });
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const said = first.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'malformed YAML';
    const reason = said.includes('multiple documents')
      ? 'a job file holds one YAML document (found another ---)'
      : said;
    throw new UsageError(`${source}:${at?.line ?? 1}:${at?.col ?? 1}: malformed YAML: ${reason}`);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIASES }) as unknown;
  } catch (err) {
    throw new UsageError(`${source}: cannot use this YAML: ${(err as Error).message}`);
  }
}

/** 1-based line and column of a string offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, col: (lines[lines.length - 1]?.length ?? 0) + 1 };
}
