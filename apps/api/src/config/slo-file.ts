import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseSloDocument, SloDocumentError, type SloDocument } from '@jr/contracts';

/** The largest objectives file read (a few dozen objectives are a few KB). */
const MAX_SLO_FILE_BYTES = 256 * 1024;

/**
 * JR_SLO_FILE: reads and checks the objectives once, at start. Every problem is one thrown message that
 * names the file, so the API exits with one line instead of reporting on objectives it misread.
 */
export function readSloFile(file: string): SloDocument {
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_SLO_FILE_BYTES) throw new Error(`larger than ${MAX_SLO_FILE_BYTES} bytes`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parse(text, { maxAliasCount: 10, uniqueKeys: true });
  } catch (err) {
    throw new Error(`${file} is not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return parseSloDocument(value);
  } catch (err) {
    if (err instanceof SloDocumentError) throw new Error(`${file}: ${err.message}`);
    throw err;
  }
}
