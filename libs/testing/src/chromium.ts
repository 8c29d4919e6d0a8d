import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MissingBinaryError } from './private-services';

// A real browser for tests of what jr writes for browsers (the HTML SLO report): Debian's `chromium`
// in headless mode, one process per call, with the network closed so a page that tries to load
// anything fails visibly instead of quietly depending on the internet.

/** Per call: a broken page or a wedged browser fails the test instead of hanging it. */
const RENDER_TIMEOUT_MS = 60_000;

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * `chromium` from PATH; when missing and running as root, installs Debian's `chromium` package
 * (under the same lock file as the other apt installs of the tests, so parallel workers do not fight
 * over dpkg). Throws MissingBinaryError otherwise: a test that needs it must fail, not skip.
 */
export function ensureChromium(): string {
  let bin = which('chromium');
  if (!bin && isRoot()) {
    const script =
      'command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }';
    execFileSync('flock', [path.join(os.tmpdir(), 'jr-apt.lock'), 'sh', '-c', script], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    bin = which('chromium');
  }
  if (!bin)
    throw new MissingBinaryError(
      'chromium',
      "install Debian's chromium package (sudo apt-get install chromium); .ci/run does it when missing",
    );
  return bin;
}

/**
 * Flags of every run. --no-sandbox: tests run as root in containers, where Chromium's sandbox
 * refuses to start. The resolver rule makes every host name fail to resolve and the background
 * networking flag stops update checks and the like: the page gets no network at all.
 */
function baseArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--no-first-run',
    '--hide-scrollbars',
    '--host-resolver-rules=MAP * ~NOTFOUND',
    `--user-data-dir=${profile}`,
    '--window-size=1280,2000',
    '--virtual-time-budget=2000',
  ];
}

function run(bin: string, args: string[]): string {
  return execFileSync(bin, args, {
    encoding: 'utf8',
    timeout: RENDER_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    // Chromium is chatty on stderr (dbus, fontconfig); only stdout (the DOM) matters.
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/**
 * Opens `htmlFile` in headless Chromium twice: once to write a screenshot to `outPng`, once to dump
 * the DOM as the browser built it (what a test should check: what was parsed, not what was written).
 * Each run gets a fresh profile directory, removed after, so runs neither share state nor touch $HOME.
 */
export function renderInChromium(htmlFile: string, outPng: string): { dom: string } {
  const bin = ensureChromium();
  const url = pathToFileURL(path.resolve(htmlFile)).href;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-chromium-'));
  try {
    run(bin, [...baseArgs(path.join(profile, 'shot')), `--screenshot=${path.resolve(outPng)}`, url]);
    if (!fs.existsSync(outPng)) throw new Error(`chromium wrote no screenshot to ${outPng}`);
    const dom = run(bin, [...baseArgs(path.join(profile, 'dom')), '--dump-dom', url]);
    return { dom };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
