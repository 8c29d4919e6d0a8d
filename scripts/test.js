#!/usr/bin/env node
// `npm test`: build, lint, then every jest tier (unit, integration, e2e) against Redis and Postgres.
// When nothing answers on REDIS_URL / DATABASE_URL, private instances are started from the local
// binaries for the run (and stopped after); see libs/testing/src/services.ts.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function main() {
  const jestArgs = process.argv.slice(2);
  if (run(bin('tsc'), ['-b']) !== 0) return fail('build failed (tsc -b)');
  if (run(bin('tsc'), ['-p', 'tsconfig.lint.json']) !== 0)
    return fail('type check of tests failed (npm run typecheck)');
  if (!process.env.JR_SKIP_LINT && run(bin('eslint'), ['.']) !== 0) return fail('lint failed (npx eslint .)');
  if (!process.env.JR_SKIP_LINT && run(bin('prettier'), ['--check', '--log-level', 'warn', '.']) !== 0) {
    return fail('formatting differs (npm run format fixes it)');
  }

  const { ensureServices } = require(path.join(root, 'libs/testing/dist'));
  let services;
  try {
    services = await ensureServices({
      redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
      databaseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
      baseDir: path.join(root, 'var', 'test-services'),
      log: (line) => console.error(`[test] ${line}`),
    });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  // NestJS 12 is ESM-only: jest loads it only with Node's VM modules.
  const nodeOptions = [process.env.NODE_OPTIONS, '--experimental-vm-modules', '--no-warnings=ExperimentalWarning']
    .filter(Boolean)
    .join(' ');
  const env = {
    ...process.env,
    NODE_OPTIONS: nodeOptions,
    TEST_REDIS_URL: services.redisUrl,
    TEST_DATABASE_URL: services.postgresServerUrl,
  };
  let code;
  try {
    code = run(bin('jest'), ['--ci', '--maxWorkers=2', ...jestArgs], env);
  } finally {
    await services.stop();
  }
  process.exitCode = code;
}

function fail(message) {
  console.error(`npm test: ${message}`);
  process.exitCode = 1;
}

main().catch((err) => {
  console.error(`npm test: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
