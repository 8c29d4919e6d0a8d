import type { SloDocument } from '@jr/contracts';
import type { RedisTarget } from '../queue/redis-target';
import type { PgEndpoint } from '../database/pg-hosts';
import type { SecretKey } from '../secrets/secret-box';
import type { LimitsConfig } from './limits.schema';

/** The API's configuration, parsed once at start-up (see config.schema.ts). Nothing else reads process.env. */
export interface AppConfig {
  httpPort: number;
  grpcPort: number;
  bindHost: string;
  dataDir: string;
  /** JR_REPLICA_ID: this replica's name among those sharing the database (default: host name + data dir hash). */
  replicaId: string;
  redisUrl: string;
  /** REDIS_URL parsed: one server, or a Sentinel-managed primary. */
  redis: RedisTarget;
  databaseUrl: string;
  /** DATABASE_URL's hosts in order (libpq's `host1:port1,host2:port2` list): the first writable primary is used. */
  databaseEndpoints: PgEndpoint[];
  dev: boolean;
  adminToken: string;
  enrollToken: string;
  heartbeatIntervalMs: number;
  queuePrefix: string;
  maxLostAttempts: number;
  leaseWaitMaxMs: number;
  /** JR_GRPC_MAX_CONNECTION_AGE: agents' gRPC connections are closed (GOAWAY) after about this long, 0: never. */
  grpcMaxConnectionAgeMs: number;
  /** Every queued job is re-added to BullMQ this often, whatever the loss checks saw (a lost write they cannot see). */
  reconcileIntervalMs: number;
  /** How long Redis keeps a committed Idempotency-Key reservation (JR_IDEMPOTENCY_REDIS_TTL; Postgres keeps keys for good). */
  idempotencyRedisTtlMs: number;
  /** Distinct pools agents may serve at once (each pool is one BullMQ worker and its Redis connections). */
  maxPools: number;
  journalMaxBytes: number;
  /** Stored output per job, over all its attempts; past it output is dropped behind one marker line. */
  maxLogBytes: number;
  /** How often the Postgres-fed gauges of /metrics are refreshed in the background (scrapes read the cache). */
  metricsRefreshMs: number;
  logLevel: LogLevel;
  /** JR_SLO_FILE's objectives (checked at start), or the built-in three. */
  slo: SloDocument;
  /** JR_CANARY_INTERVAL (0: off) and JR_CANARY_POOLS (unset: every pool with an active agent). */
  canary: { intervalMs: number; pools?: string[] };
  /** Rate limits, lockouts and HTTP socket limits. */
  limits: LimitsConfig;
  /** `JR_SECRETS_KEY`: the first seals job secrets, all open them; absent: secrets refused (JR_DEV: a key file). */
  secretsKeys?: SecretKey[];
  /** How both listeners speak: TLS from the operator's files, TLS from the API's own CA, or plain text. */
  tls: TlsSettings;
  /** Lifetime of the agents' client certificates (JR_AGENT_CERT_TTL; none are issued in plain text). */
  agentCertTtlMs: number;
  /** JR_AGENT_CA_CERT / JR_AGENT_CA_KEY: the agent CA from files; absent: the API's own (JR_DATA_DIR/tls). */
  agentCaFiles?: { certFile: string; keyFile: string };
}

export type TlsSettings =
  | { mode: 'operator'; certFile: string; keyFile: string }
  /** Own CA and server certificate in `<dataDir>/tls`; `extraSans` from JR_TLS_SANS. */
  | { mode: 'self'; extraSans: string[] }
  | { mode: 'insecure' };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Injection tokens of the configuration module. */
export const APP_CONFIG = Symbol('AppConfig');
export const CLOCK = Symbol('Clock');

/** Time, behind an interface so lease logic can be tested with a fake clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
