#!/usr/bin/env node
// `npm run chaos [-- --duration 5m] [--seed N] [--scenario soak|durability|all]`: the seeded soak
// (test/chaos/soak.test.ts) and/or the full-size durability scenarios (test/chaos/durability.test.ts),
// through scripts/test.js (build, typecheck, lint, services) with the chaos jest config.
// The seed is printed first, so any run can be replayed with --seed.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const USAGE = 'usage: npm run chaos [-- --duration 5m] [--seed N] [--scenario soak|durability|all]';

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text));
  if (!m) return NaN;
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
}

function parseArgs(argv) {
  const o = { durationMs: 300_000, seed: Date.now() % 1_000_000_000, scenario: 'soak' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--duration') o.durationMs = parseDuration(value());
    else if (flag === '--seed') o.seed = Number(value());
    else if (flag === '--scenario') o.scenario = value();
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isFinite(o.durationMs) || o.durationMs < 10_000)
    throw new Error('--duration must be at least 10s (e.g. 90s, 5m)');
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error('--seed must be a non-negative integer');
  if (!['soak', 'durability', 'all'].includes(o.scenario))
    throw new Error('--scenario must be soak, durability or all');
  return o;
}

function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`chaos: ${err.message}\n${USAGE}`);
    return 64;
  }
  const files = {
    soak: ['test/chaos/soak.test.ts'],
    durability: ['test/chaos/durability.test.ts'],
    all: ['test/chaos/soak.test.ts', 'test/chaos/durability.test.ts'],
  }[o.scenario];
  console.error(
    `chaos: scenario ${o.scenario}, seed ${o.seed}, duration ${o.durationMs / 1000} s (replay: npm run chaos -- --seed ${o.seed} --duration ${o.durationMs / 1000}s --scenario ${o.scenario})`,
  );
  const env = { ...process.env, JR_CHAOS_SEED: String(o.seed), JR_CHAOS_DURATION_MS: String(o.durationMs) };
  const r = spawnSync(
    process.execPath,
    [path.join(__dirname, 'test.js'), '--config', 'test/chaos/jest.config.js', '--runTestsByPath', ...files],
    { stdio: 'inherit', env },
  );
  return r.status ?? 1;
}

process.exitCode = main();
