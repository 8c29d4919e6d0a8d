import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { generateSigningKeyPair, keyIdOf, parseSigningKey, parseVerifyKeys } from '@jr/contracts';
import { UsageError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { printJson, say } from '../output';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function registerKeys(program: Command, ctx: Context, setExit: SetExit): void {
  const keys = program.command('keys').description('job signing keys (JR_JOB_SIGNING_KEY, JR_JOB_VERIFY_KEYS)');
  keys
    .command('generate')
    .description(
      'make an Ed25519 key pair for signing jobs: DIR/NAME.key (private, mode 0600: JR_JOB_SIGNING_KEY of the ' +
        'submitter) and DIR/NAME.pub (public: JR_JOB_VERIFY_KEYS of the agents); never overwrites a file',
    )
    .requiredOption('--out <dir>', 'directory to write the two files to (created if missing)')
    .option('--name <name>', 'file name without extension', 'job-signing')
    .option('--json', 'print {keyId, privateKeyFile, publicKeyFile}')
    .action((opts: { out: string; name: string; json?: boolean }) => {
      if (!NAME_RE.test(opts.name)) throw new UsageError('--name: letters, digits, _ . -, at most 64');
      const dir = path.resolve(opts.out);
      const pair = generateSigningKeyPair();
      const privateKeyFile = path.join(dir, `${opts.name}.key`);
      const publicKeyFile = path.join(dir, `${opts.name}.pub`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeNew(privateKeyFile, pair.privatePem, 0o600);
      writeNew(publicKeyFile, pair.publicPem, 0o644);
      if (opts.json) printJson(ctx.io, { keyId: pair.keyId, privateKeyFile, publicKeyFile });
      else {
        ctx.io.stdout.write(`${pair.keyId}\n`);
        say(ctx.io, `wrote ${privateKeyFile} (keep it secret) and ${publicKeyFile}, key id ${pair.keyId}`);
        say(ctx.io, `submitters: JR_JOB_SIGNING_KEY=${privateKeyFile}`);
        say(ctx.io, `agents:     JR_JOB_VERIFY_KEYS=${publicKeyFile}`);
      }
      setExit(EXIT.OK);
    });
  keys
    .command('id')
    .description('print the key id of a signing key or of each public key in a file (as jobs carry it)')
    .argument('<file>', 'a private key (.key) or a file of public keys (.pub)')
    .action((file: string) => {
      for (const id of keyIds(file)) ctx.io.stdout.write(`${id}\n`);
      setExit(EXIT.OK);
    });
}

function writeNew(file: string, text: string, mode: number): void {
  try {
    writeFileSync(file, text, { mode, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${file} exists; not overwriting a key (choose --name or --out)`);
    throw new UsageError(`cannot write ${file} (${code ?? String(err)})`);
  }
}

function keyIds(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    if (/-----BEGIN PRIVATE KEY-----/.test(text)) return [keyIdOf(parseSigningKey(text).key)];
    return [...parseVerifyKeys(text).keys()];
  } catch (err) {
    throw new UsageError(`${file} ${(err as Error).message}`);
  }
}
