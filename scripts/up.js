#!/usr/bin/env node
// `npm run up`: a working jobrunner on this machine in one command. Uses Redis/Postgres where they
// answer (REDIS_URL, DATABASE_URL), else starts private ones under var/services; then starts the API
// and one agent, runs a demo job, prints what to try next, and runs until Ctrl-C, when it stops
// everything it started. Its jobs and agents live in a database and under a queue key prefix of their
// own (scripts/up-names.js; DATABASE_URL and JR_QUEUE_PREFIX override them), so a shared Redis and
// Postgres never mix them with anyone else's. JR_UP_VAR_DIR moves its var directory (default ./var).
'use strict';
const crypto = require('node:crypto');
const { X509Certificate } = crypto;
const fs = require('node:fs');
const path = require('node:path');
const { upNames } = require('./up-names');

const root = path.resolve(__dirname, '..');
const varDir = path.resolve(process.env.JR_UP_VAR_DIR || path.join(root, 'var'));

/**
 * As root the agent runs steps as `nobody` (libs/testing jobUserEnv), who must reach its workspaces: a
 * checkout under /root is closed to it, so they go under the temp directory, one per var directory.
 */
function jobWorkDir() {
  if (process.env.JR_WORK_DIR) return { JR_WORK_DIR: process.env.JR_WORK_DIR };
  if (process.getuid?.() !== 0) return {};
  const id = crypto.createHash('sha256').update(varDir).digest('hex').slice(0, 12);
  return { JR_WORK_DIR: path.join(require('node:os').tmpdir(), `jr-up-work-${id}`) };
}
/** A path as the user typed it best: relative when under the current directory, else absolute. */
const shown = (p) => {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
};
const t = require(path.join(root, 'libs/testing/dist'));

const say = (line) => process.stderr.write(`[up] ${line}\n`);
const AGENT_NAME = 'local-agent';

function secret(file, make = () => crypto.randomBytes(24).toString('base64url')) {
  const p = path.join(varDir, 'up', file);
  if (fs.existsSync(p)) return fs.readFileSync(p, 'utf8').trim();
  const value = make();
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

async function checkPorts(httpPort, grpcPort) {
  for (const [what, port] of [
    ['JR_HTTP_PORT', httpPort],
    ['JR_GRPC_PORT', grpcPort],
  ]) {
    if (await t.canConnect('127.0.0.1', port, 300)) {
      throw new Error(`port ${port} is already in use (is jobrunner already up?): stop it or set ${what}`);
    }
  }
}

/** This run's own database on the server found (or started), created if new; its URL. */
async function prepareDatabase(services, names) {
  await ensureDatabase(services.postgresServerUrl, names.database);
  const dbUrl = new URL(services.postgresServerUrl);
  dbUrl.pathname = `/${encodeURIComponent(names.database)}`;
  const server = `${dbUrl.hostname}:${dbUrl.port || 5432}`;
  const why =
    names.chosen.database && names.chosen.queuePrefix
      ? 'as DATABASE_URL and JR_QUEUE_PREFIX say'
      : "this checkout's own; set DATABASE_URL / JR_QUEUE_PREFIX to choose";
  say(`database ${names.database} on ${server}, queue prefix ${names.queuePrefix} (${why})`);
  return dbUrl.toString();
}

/**
 * Waits for this run's agent to heartbeat (a record of a previous run does not count) and returns its
 * view: `active`, or `draining` when an operator drained it (a drain outlives restarts).
 */
async function waitForAgent(agent, cliEnv, since) {
  return t.waitFor(
    async () => {
      if (!agent.running) throw new Error(`jr-agent exited:\n${agent.log().slice(-2000)}`);
      const r = await t.runCli(['agents', '--json'], cliEnv);
      if (r.code !== 0) return undefined;
      const fresh = JSON.parse(r.stdout)
        .items.filter(
          (a) =>
            a.name === AGENT_NAME &&
            (a.state === 'active' || a.state === 'draining') &&
            Date.parse(a.lastHeartbeatAt) >= since,
        )
        .sort((a, b) => Date.parse(b.lastHeartbeatAt) - Date.parse(a.lastHeartbeatAt));
      return fresh[0];
    },
    { timeoutMs: 30_000, what: 'the agent to enroll' },
  );
}

async function demoJob(cliEnv) {
  say('submitting a demo job: jr submit --wait -- sh -c "echo hello from jobrunner on $(hostname); uname -sr"');
  const submit = await t.runCli(
    [
      'submit',
      '--name',
      'demo',
      '--wait',
      '--json',
      '--',
      'sh',
      '-c',
      'echo hello from jobrunner on $(hostname); uname -sr',
    ],
    cliEnv,
  );
  const id = JSON.parse(submit.stdout || '{}').id;
  if (!id) throw new Error(`demo job failed to submit (exit ${submit.code}): ${submit.stderr.trim()}`);
  const logs = await t.runCli(['logs', id], cliEnv);
  process.stdout.write(`\n--- demo job ${id} (exit ${submit.code}) ---\n${logs.stdout}---\n\n`);
  return id;
}

function banner(httpPort, tls, jobId, drainedId) {
  process.stdout.write(
    [
      "jobrunner is up (REST over HTTPS, gRPC over TLS, with the API's own CA). In another terminal:",
      `  export JR_API_URL=https://127.0.0.1:${httpPort} JR_CA_FILE=${shown(tls.caFile)} JR_TOKEN=$(cat ${shown(path.join(varDir, 'up', 'admin-token'))})`,
      `  # or, instead of the CA file, pin the CA by its fingerprint: export JR_API_CA_SHA256=${tls.caSha256}`,
      ...(drainedId
        ? [`  npx jr agents undrain ${drainedId}       # the local agent is drained: let it take jobs again`]
        : []),
      '  npx jr submit --wait -- echo hi            # run a command on the agent',
      '  npx jr list                                # recent jobs',
      ...(jobId ? [`  npx jr status ${jobId}`] : []),
      '  npx jr agents                              # the fleet',
      `  curl -s --cacert ${shown(tls.caFile)} https://127.0.0.1:${httpPort}/readyz     # dependencies`,
      'Ctrl-C stops everything this started.',
      '',
    ].join('\n'),
  );
}

/** The CA jr-api made in its data directory on first start, and its fingerprint (what agents may pin). */
function apiTls(apiDataDir) {
  const caFile = path.join(apiDataDir, 'tls', 'ca.pem');
  const cert = new X509Certificate(fs.readFileSync(caFile));
  return { caFile, caSha256: `sha256:${cert.fingerprint256.replace(/:/g, '').toLowerCase()}` };
}

async function main() {
  const httpPort = Number(process.env.JR_HTTP_PORT || 8080);
  const grpcPort = Number(process.env.JR_GRPC_PORT || 50051);
  await checkPorts(httpPort, grpcPort);
  const names = upNames({ varDir });
  const services = await t.ensureServices({
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    databaseUrl: names.databaseUrl,
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
    await run({ httpPort, grpcPort, names, services, procs });
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(1);
  }
}

async function run({ httpPort, grpcPort, names, services, procs }) {
  const databaseUrl = await prepareDatabase(services, names);
  const adminToken = process.env.JR_ADMIN_TOKEN || secret('admin-token');
  const enrollToken = process.env.JR_ENROLL_TOKEN || secret('enroll-token');
  // job secrets are sealed with this key (JR_SECRETS_KEY, id:base64 of 32 bytes)
  const secretsKey =
    process.env.JR_SECRETS_KEY || secret('secrets-key', () => `up:${crypto.randomBytes(32).toString('base64')}`);
  const logDir = path.join(varDir, 'up');
  say('starting jr-api…');
  procs.push(
    await t.startApiProcess(
      {
        httpPort,
        grpcPort,
        dataDir: path.join(varDir, 'api'),
        redisUrl: services.redisUrl,
        databaseUrl,
        adminToken,
        enrollToken,
        queuePrefix: names.queuePrefix,
        heartbeatInterval: process.env.JR_HEARTBEAT_INTERVAL || '10s',
        extraEnv: { JR_SECRETS_KEY: secretsKey },
      },
      path.join(logDir, 'api.log'),
    ),
  );
  const tls = apiTls(path.join(varDir, 'api'));
  say(
    `jr-api ready on https://127.0.0.1:${httpPort} (gRPC over TLS ${grpcPort}); log: ${shown(path.join(logDir, 'api.log'))}`,
  );
  say(`its CA: ${shown(tls.caFile)}, fingerprint ${tls.caSha256}`);
  const since = Date.now() - 1_000;
  const agent = t.startAgentProcess(
    {
      grpcTarget: `127.0.0.1:${grpcPort}`,
      dataDir: path.join(varDir, 'agent'),
      enrollToken,
      name: AGENT_NAME,
      slots: Number(process.env.JR_SLOTS || 4),
      // the enrollment pattern of a new machine: the CA's fingerprint only; the agent fetches the CA and keeps it
      extraEnv: { ...jobWorkDir(), JR_API_CA_SHA256: tls.caSha256 },
    },
    path.join(logDir, 'agent.log'),
  );
  procs.push(agent);
  const cliEnv = { JR_API_URL: `https://127.0.0.1:${httpPort}`, JR_CA_FILE: tls.caFile, JR_TOKEN: adminToken };
  const view = await waitForAgent(agent, cliEnv, since);
  say(`jr-agent ${view.id} enrolled; log: ${shown(path.join(logDir, 'agent.log'))}`);
  if (view.draining) {
    say(
      `the local agent ${view.id} is drained (jr agents drain; a drain outlives restarts): it takes no jobs until you run \`npx jr agents undrain ${view.id}\``,
    );
    say('no demo job while it is drained');
    return banner(httpPort, tls, undefined, view.id);
  }
  banner(httpPort, tls, await demoJob(cliEnv), undefined);
}

main().catch((err) => {
  process.stderr.write(`[up] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
