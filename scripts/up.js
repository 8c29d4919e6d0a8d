#!/usr/bin/env node
// `npm run up`: a working jobrunner on this machine in one command. Uses Redis/Postgres where they
// answer (REDIS_URL, DATABASE_URL), else starts private ones under ./var/services; then starts the API
// and one agent, runs a demo job, prints what to try next, and runs until Ctrl-C, when it stops
// everything it started.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const varDir = path.join(root, 'var');
const t = require(path.join(root, 'libs/testing/dist'));

const say = (line) => process.stderr.write(`[up] ${line}\n`);

function secret(file) {
  const p = path.join(varDir, 'up', file);
  if (fs.existsSync(p)) return fs.readFileSync(p, 'utf8').trim();
  const value = crypto.randomBytes(24).toString('base64url');
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, `${value}\n`, { mode: 0o600 });
  return value;
}

async function ensureDatabase(serverUrl, name) {
  const { Client } = require(require.resolve('pg', { paths: [path.join(root, 'libs/testing')] }));
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
  } finally {
    await c.end();
  }
}

async function main() {
  const httpPort = Number(process.env.JR_HTTP_PORT || 8080);
  const grpcPort = Number(process.env.JR_GRPC_PORT || 50051);
  for (const [what, port] of [['JR_HTTP_PORT', httpPort], ['JR_GRPC_PORT', grpcPort]]) {
    if (await t.canConnect('127.0.0.1', port, 300)) {
      throw new Error(`port ${port} is already in use (is jobrunner already up?): stop it or set ${what}`);
    }
  }
  const wantedDb = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/jobrunner';
  const services = await t.ensureServices({
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    databaseUrl: wantedDb,
    baseDir: path.join(varDir, 'services'),
    log: say,
  });
  const procs = [];
  let stopping = false;
  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const p of procs.reverse()) await p.stop(20_000);
    await services.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  try {
    const dbName = new URL(wantedDb).pathname.slice(1) || 'jobrunner';
    await ensureDatabase(services.postgresServerUrl, dbName);
    const dbUrl = new URL(services.postgresServerUrl);
    dbUrl.pathname = `/${dbName}`;
    const adminToken = process.env.JR_ADMIN_TOKEN || secret('admin-token');
    const enrollToken = process.env.JR_ENROLL_TOKEN || secret('enroll-token');
    say('starting jr-api…');
    procs.push(await t.startApiProcess({
      httpPort, grpcPort, dataDir: path.join(varDir, 'api'), redisUrl: services.redisUrl, databaseUrl: dbUrl.toString(),
      adminToken, enrollToken, queuePrefix: 'jr', heartbeatInterval: process.env.JR_HEARTBEAT_INTERVAL || '10s',
    }, path.join(varDir, 'up', 'api.log')));
    say(`jr-api ready on http://127.0.0.1:${httpPort} (gRPC ${grpcPort}); log: var/up/api.log`);
    const agent = t.startAgentProcess({
      grpcTarget: `127.0.0.1:${grpcPort}`, dataDir: path.join(varDir, 'agent'), enrollToken, name: 'local-agent',
      slots: Number(process.env.JR_SLOTS || 4),
    }, path.join(varDir, 'up', 'agent.log'));
    procs.push(agent);
    const cliEnv = { JR_API_URL: `http://127.0.0.1:${httpPort}`, JR_TOKEN: adminToken };
    await t.waitFor(async () => {
      if (!agent.running) throw new Error(`jr-agent exited:\n${agent.log().slice(-2000)}`);
      const r = await t.runCli(['agents', '--json'], cliEnv);
      return r.code === 0 && JSON.parse(r.stdout).items.some((a) => a.name === 'local-agent' && a.state === 'active');
    }, { timeoutMs: 30_000, what: 'the agent to enroll' });
    say('jr-agent enrolled; log: var/up/agent.log');
    say('submitting a demo job: jr submit --wait -- sh -c "echo hello from jobrunner on $(hostname); uname -sr"');
    const submit = await t.runCli(['submit', '--name', 'demo', '--wait', '--json', '--', 'sh', '-c', 'echo hello from jobrunner on $(hostname); uname -sr'], cliEnv);
    const id = JSON.parse(submit.stdout || '{}').id;
    if (!id) throw new Error(`demo job failed to submit (exit ${submit.code}): ${submit.stderr.trim()}`);
    const logs = await t.runCli(['logs', id], cliEnv);
    process.stdout.write(`\n--- demo job ${id} (exit ${submit.code}) ---\n${logs.stdout}---\n\n`);
    process.stdout.write([
      'jobrunner is up. In another terminal:',
      `  export JR_API_URL=http://127.0.0.1:${httpPort} JR_TOKEN=$(cat var/up/admin-token)`,
      '  npx jr submit --wait -- echo hi            # run a command on the agent',
      '  npx jr list                                # recent jobs',
      `  npx jr status ${id}`,
      '  npx jr agents                              # the fleet',
      `  curl -s http://127.0.0.1:${httpPort}/readyz     # dependencies`,
      'Ctrl-C stops everything this started.',
      '',
    ].join('\n'));
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

main().catch((err) => {
  process.stderr.write(`[up] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
