/**
 * Builds what a crash-test child process runs: the journal's sources and the child script,
 * transpiled (types stripped, CommonJS) into a temporary directory, so the child runs the current
 * sources on plain Node without a prior `tsc -b`.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const JOURNAL_SRC = resolve(__dirname, '../../../libs/journal/src');

function transpile(source: string, fileName: string): string {
  return ts.transpileModule(source, {
    fileName,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
}

/** Writes `<outDir>/journal/*.js` and `<outDir>/<child>.js`; returns the child's path. */
export async function buildChild(outDir: string, childTs: string): Promise<string> {
  await mkdir(join(outDir, 'journal'), { recursive: true });
  for (const name of await readdir(JOURNAL_SRC)) {
    if (!name.endsWith('.ts') || name.endsWith('.spec.ts')) continue;
    const js = transpile(await readFile(join(JOURNAL_SRC, name), 'utf8'), name);
    await writeFile(join(outDir, 'journal', name.replace(/\.ts$/, '.js')), js);
  }
  const childJs = transpile(await readFile(childTs, 'utf8'), childTs).replace(
    /require\("@jr\/journal"\)/g,
    'require("./journal")',
  );
  const out = join(outDir, 'child.js');
  await writeFile(out, childJs);
  return out;
}
