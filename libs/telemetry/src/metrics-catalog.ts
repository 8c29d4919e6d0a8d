// THE metrics catalog: every metric jobrunner exposes, in one place. Dashboards (infra/grafana) and
// alert rules (infra/prometheus) may use only names declared here (checked by a test), plus Prometheus'
// own `up` and the `process_*`/`nodejs_*` runtime metrics prom-client adds.
// Conventions: `jr_` prefix, base units (seconds, bytes) in the name, counters end in `_total`,
// label values bounded (see metric-handles.ts). "API view of the fleet" metrics are `jr_fleet_*` and
// carry `agent`; the agent's own metrics (its local port, JR_METRICS_PORT) are `jr_agent_*` without it,
// so one query never double counts an agent scraped both ways.
import { counter, gauge, histogram } from './metric-defs';

/** Terminal job states (contracts' TERMINAL_JOB_STATES; a spec keeps them in sync). */
export const TERMINAL_JOB_STATES = ['succeeded', 'failed', 'cancelled', 'timed_out'] as const;
/** States an attempt ends in (contracts' ATTEMPT_STATES minus leased/running). */
export const ENDED_ATTEMPT_STATES = ['succeeded', 'failed', 'cancelled', 'timed_out', 'lost', 'superseded'] as const;
export const AGENT_STATES = ['active', 'draining', 'lost'] as const;
export const DEPENDENCIES = ['journal', 'redis', 'postgres'] as const;
export const RECONCILE_KINDS = ['requeued', 'replayed'] as const;
export const REPORT_RESULTS = ['accepted', 'duplicate', 'rejected'] as const;
export const STEP_OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
export const CANCEL_REASONS = ['cancelled', 'lease_lost', 'superseded'] as const;
/** Why an agent refused a job before running anything (contracts' JOB_REASONS). */
export const REFUSAL_REASONS = ['signature_invalid'] as const;
/** What was wrong with a refused job's signature (contracts' SIGNATURE_REFUSALS; a spec keeps them in sync). */
export const SIGNATURE_REFUSAL_CAUSES = ['missing', 'malformed', 'unknown_key', 'expired', 'bad_signature'] as const;
/** Why POST /v1/jobs refused a submission. */
export const INTAKE_REJECT_REASONS = [
  'invalid_input',
  'journal_full',
  'disk_full',
  'journal_error',
  'shutting_down',
] as const;
/** What caused a full re-enqueue of the queued jobs from Postgres into BullMQ. */
export const RECONCILE_TRIGGERS = ['startup', 'redis_lost', 'redis_failover', 'periodic'] as const;
/** The API's rate limits and lockouts (apps/api/src/limits): which one refused a call. */
export const RATE_LIMITS = ['address', 'token', 'auth_lockout', 'agent', 'enroll'] as const;
/** Why the API refused an agent for trust reasons (Enroll, or a call of a revoked agent, or a Lease past its slots). */
export const AGENT_REFUSAL_REASONS = [
  'token_refused',
  'pool_not_allowed',
  'labels_not_allowed',
  'token_used_up',
  'takeover',
  'revoked',
  'pool_cap',
  'lease_in_flight',
] as const;
/** What one keyed submission's Idempotency-Key reservation in Redis came to (apps/api/src/intake/idempotency-reservations.ts). */
export const IDEMPOTENCY_RESERVATION_OUTCOMES = [
  'reserved',
  'taken_over',
  'duplicate',
  'busy',
  'lost',
  'unavailable',
] as const;
/** The API's two journals: submissions and agents' results. */
export const JOURNALS = ['intake', 'results'] as const;

/** The dispatch SLO threshold (seconds): it must be a bucket boundary of jr_dispatch_latency_seconds. */
export const DISPATCH_SLO_SECONDS = 1;

/** Canary outcomes of jr_canaries_total. */
export const CANARY_OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'refused'] as const;
/** Incident causes (contracts' INCIDENT_CAUSES; a spec keeps them in sync). */
export const INCIDENT_CAUSE_VALUES = [
  'dependency_down',
  'intake_refusing',
  'sli_violated',
  'replica_lost',
  'breaker_open',
] as const;
/** Canary SLI thresholds (contracts' CANARY_THRESHOLDS_S) must be boundaries here. */
const CANARY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300] as const;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const RPC_BUCKETS = [...LATENCY_BUCKETS, 30, 60] as const;
const DISPATCH_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  DISPATCH_SLO_SECONDS,
  2,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
] as const;
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600] as const;
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Relay lag: milliseconds normally, minutes while Postgres is down (the RPO for the loss of a volume). */
const RELAY_LAG_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600,
] as const;

const POOL = ['pool'] as const;
const AGENT = ['agent', 'pool'] as const;
const JOURNAL = ['journal'] as const;

/** Metrics both processes expose. */
export const COMMON_METRICS = {
  buildInfo: gauge('jr_build_info', 'Always 1; labels name the running service and its version.', [
    'service',
    'version',
  ]),
  collectionErrors: counter(
    'jr_metrics_collection_errors_total',
    'Scrape-time collectors (database reads for gauges) that failed or timed out.',
  ),
};

/** What `jr-api` exposes on GET /metrics. */
export const API_METRICS = {
  ...COMMON_METRICS,
  // Intake and outcomes
  jobsSubmitted: counter(
    'jr_jobs_submitted_total',
    'Jobs accepted by POST /v1/jobs (durable on disk); idempotent replays excluded.',
    POOL,
  ),
  intakeRejected: counter(
    'jr_intake_rejected_total',
    'Submissions POST /v1/jobs refused, by reason (journal_full/disk_full/journal_error/shutting_down answer 503).',
    ['reason'],
    {
      knownValues: { reason: INTAKE_REJECT_REASONS },
    },
  ),
  jobsDeduplicated: counter(
    'jr_jobs_deduplicated_total',
    'Submissions answered with an existing job because the Idempotency-Key was seen before.',
    POOL,
  ),
  idempotencyReservations: counter(
    'jr_idempotency_reservations_total',
    'Idempotency-Key reservations in Redis (shared by the replicas), by outcome: reserved, taken_over (a stale pending one of a dead replica), duplicate (a committed one answered), busy (still pending after the wait: 503), lost (taken over before this replica journaled: two ids, aliased by the relay), unavailable (Redis unreachable: checked on this replica and in Postgres only).',
    ['outcome'],
    { knownValues: { outcome: IDEMPOTENCY_RESERVATION_OUTCOMES } },
  ),
  jobsFinished: counter(
    'jr_jobs_finished_total',
    'Jobs that reached a terminal state, by pool and state.',
    ['pool', 'state'],
    {
      knownValues: { state: TERMINAL_JOB_STATES },
    },
  ),
  attemptsFinished: counter(
    'jr_attempts_finished_total',
    'Attempts that ended, by pool and attempt state (lost: agent vanished).',
    ['pool', 'state'],
    {
      knownValues: { state: ENDED_ATTEMPT_STATES },
    },
  ),
  jobDuration: histogram(
    'jr_job_duration_seconds',
    'Time from acceptance to the terminal state, by pool and state.',
    ['pool', 'state'],
    JOB_BUCKETS,
  ),
  // Queue and dispatch
  queueDepth: gauge('jr_queue_depth', 'Jobs queued and not yet leased, by pool (read at scrape time).', POOL),
  queueOldestAge: gauge(
    'jr_queue_oldest_age_seconds',
    'Age of the oldest queued job, by pool; 0 when the queue is empty.',
    POOL,
  ),
  dispatchLatency: histogram(
    'jr_dispatch_latency_seconds',
    'Time from a job (or its retry) becoming queued to an agent leasing it.',
    POOL,
    DISPATCH_BUCKETS,
  ),
  leasesExpired: counter(
    'jr_leases_expired_total',
    'Leases the reaper expired because their agent stopped extending them.',
    POOL,
  ),
  reconciledJobs: counter(
    'jr_reconciled_jobs_total',
    'Jobs repaired because the stores disagreed (requeued: queued in Postgres, missing in Redis; replayed: journal records applied at start-up).',
    ['kind'],
    {
      knownValues: { kind: RECONCILE_KINDS },
    },
  ),
  reconciliations: counter(
    'jr_reconciliations_total',
    'Full re-enqueues of the queued jobs from Postgres into BullMQ, by trigger (redis_lost: Redis came back empty).',
    ['trigger'],
    {
      knownValues: { trigger: RECONCILE_TRIGGERS },
    },
  ),
  reportEvents: counter(
    'jr_report_events_total',
    'Attempt events received from agents: accepted, duplicate (already held, e.g. outbox replay), rejected (stale lease).',
    ['result'],
    {
      knownValues: { result: REPORT_RESULTS },
    },
  ),
  // The fleet as the API sees it (from heartbeats; rebuilt at scrape time)
  fleetAgents: gauge('jr_fleet_agents', 'Enrolled agents by pool and state.', ['pool', 'state'], {
    knownValues: { state: AGENT_STATES },
  }),
  agentsLost: counter('jr_agents_lost_total', 'Agents declared lost (silent for 3 heartbeat intervals).', POOL),
  agentRefusals: counter(
    'jr_agents_refused_total',
    'Agent calls refused for trust reasons: enroll tokens, pools and labels they do not allow, takeovers without proof, revoked agents, the pool cap, Lease calls past the slots.',
    ['reason'],
    { knownValues: { reason: AGENT_REFUSAL_REASONS } },
  ),
  fleetAgentInfo: gauge(
    'jr_fleet_agent_info',
    'Always 1 for each agent not lost; joins agent id to its name and version.',
    ['agent', 'name', 'pool', 'version'],
  ),
  fleetSlots: gauge('jr_fleet_slots', 'Job slots of each agent, as last reported.', AGENT),
  fleetRunning: gauge('jr_fleet_running_attempts', 'Attempts each agent runs, as last reported.', AGENT),
  fleetBreakerOpen: gauge(
    'jr_fleet_breaker_open',
    "1 while the agent's status-reporting breaker is open (results spool to its disk), else 0.",
    AGENT,
  ),
  fleetOutboxDepth: gauge(
    'jr_fleet_outbox_depth',
    "Events waiting in the agent's on-disk outbox, as last reported.",
    AGENT,
  ),
  fleetOutboxOldestAge: gauge(
    'jr_fleet_outbox_oldest_age_seconds',
    "Age of the oldest event in the agent's outbox, as last reported.",
    AGENT,
  ),
  fleetLastHeartbeat: gauge(
    'jr_fleet_last_heartbeat_timestamp_seconds',
    'Unix time of the last heartbeat the API received from each agent.',
    AGENT,
  ),
  heartbeatLag: histogram(
    'jr_heartbeat_lag_seconds',
    "Heartbeat transit time: receipt minus the agent's sent_at (includes clock skew).",
    POOL,
    LAG_BUCKETS,
  ),
  // Journals (intake: submissions; results: agents' reports and completions)
  journalFsyncDuration: histogram(
    'jr_journal_fsync_duration_seconds',
    'Duration of each batch fdatasync of a journal.',
    JOURNAL,
    FSYNC_BUCKETS,
  ),
  journalRelayLag: histogram(
    'jr_journal_relay_lag_seconds',
    "From a record appended durably (fdatasync done, the caller answered) to the relay having applied it (committed in PostgreSQL; for intake, its BullMQ job added too), per record a relay applied (records replayed after a restart are not counted): how long an acknowledged record exists on this replica's disk only, the RPO for the loss of that volume.",
    JOURNAL,
    RELAY_LAG_BUCKETS,
  ),
  journalFsyncs: counter(
    'jr_journal_fsyncs_total',
    'fsync/fdatasync calls a journal made (data, directories, checkpoint) since this process opened it.',
    JOURNAL,
  ),
  journalAppends: counter(
    'jr_journal_appends_total',
    'Records appended to a journal since this process opened it.',
    JOURNAL,
  ),
  journalAppendDuration: histogram(
    'jr_journal_append_duration_seconds',
    'Intake: time from append() to durable (group commit wait + write + fsync).',
    [],
    FSYNC_BUCKETS,
  ),
  journalSize: gauge('jr_journal_size_bytes', 'Bytes of journal segments on disk.', JOURNAL),
  journalUnapplied: gauge(
    'jr_journal_unapplied_bytes',
    'Journal bytes not yet checkpointed (counted against the limit).',
    JOURNAL,
  ),
  journalLimit: gauge(
    'jr_journal_limit_bytes',
    'Unapplied bytes at which the journal refuses appends (intake answers 503); +Inf when unbounded.',
    JOURNAL,
  ),
  // Edges
  httpDuration: histogram(
    'jr_http_request_duration_seconds',
    'REST requests by method, route template and status code.',
    ['method', 'route', 'status'],
    LATENCY_BUCKETS,
  ),
  grpcDuration: histogram(
    'jr_grpc_request_duration_seconds',
    'Agent gRPC calls served, by method and status code name (OK, UNAVAILABLE…).',
    ['method', 'code'],
    RPC_BUCKETS,
  ),
  rateLimited: counter(
    'jr_rate_limited_total',
    'REST requests answered 429 and gRPC calls answered RESOURCE_EXHAUSTED by a rate limit or an address lockout, by limit.',
    ['limit'],
    { knownValues: { limit: RATE_LIMITS } },
  ),
  authLockouts: counter(
    'jr_auth_lockouts_total',
    'Client addresses locked out after too many failed authentications or enrollments (each lockout, with back-off).',
  ),
  rateLimitStoreErrors: counter(
    'jr_rate_limit_store_errors_total',
    'Rate limit decisions taken without Redis (unreachable or failing): this process fell back to its own in-memory limits (fail open).',
  ),
  // Replicas (apps/api/src/leadership): one leader runs the singleton duties
  leader: gauge(
    'jr_leader',
    '1 while this replica is the elected leader (it runs the lease reaper, the queue reconciler and exports the fleet-wide gauges), else 0.',
    ['replica'],
  ),
  leaderChanges: counter(
    'jr_leader_changes_total',
    "Leadership epochs this replica has seen begin (its own elections and the other replicas'), since it started.",
  ),
  // Fleet jobs
  fleetTargets: counter(
    'jr_fleet_targets_total',
    'Targets of fleet jobs that ended, by their state (succeeded, failed, timed_out, cancelled, undelivered, skipped).',
    ['state'],
  ),
  fleetBatches: counter(
    'jr_fleet_batches_total',
    'Batches fleet rollouts began (in rolling mode, every batch-size targets made due count as one).',
  ),
  // Schedules
  scheduleFires: counter(
    'jr_schedule_fires_total',
    'Fire times the leader decided, by outcome: job (a job was made) or missed (downtime beyond the catch-up policy, or an overlap). Manual triggers not included.',
    ['outcome'],
  ),
  // Service levels: canary jobs (JR_CANARY_INTERVAL) and incidents
  canaries: counter(
    'jr_canaries_total',
    'Canary jobs that ended, by pool and outcome (succeeded, failed, timed_out, cancelled, lost: never reported in time, refused: not accepted).',
    ['pool', 'outcome'],
    { knownValues: { outcome: CANARY_OUTCOMES } },
  ),
  canaryDuration: histogram(
    'jr_canary_duration_seconds',
    'Accepted to reported, of canary jobs that succeeded (each canary also records leased and started).',
    POOL,
    CANARY_BUCKETS,
  ),
  incidentsOpen: gauge(
    'jr_incidents_open',
    'Incidents this replica has open, by cause (see GET /v1/incidents).',
    ['cause'],
    { knownValues: { cause: INCIDENT_CAUSE_VALUES } },
  ),
  // Dependencies (readiness probes)
  dependencyUp: gauge(
    'jr_dependency_up',
    '1 when the last readiness probe of the dependency succeeded, else 0.',
    ['dependency'],
    {
      knownValues: { dependency: DEPENDENCIES },
    },
  ),
  dependencyLatency: gauge(
    'jr_dependency_check_duration_seconds',
    'Duration of the last readiness probe of each dependency.',
    ['dependency'],
  ),
};

/** What `jr-agent` exposes on its local port (JR_METRICS_PORT). */
export const AGENT_METRICS = {
  ...COMMON_METRICS,
  slots: gauge('jr_agent_slots', 'Job slots this agent offers.'),
  running: gauge('jr_agent_running_attempts', 'Attempts this agent runs now.'),
  attemptsFinished: counter(
    'jr_agent_attempts_finished_total',
    'Attempts this agent finished, by outcome.',
    ['outcome'],
    {
      knownValues: { outcome: STEP_OUTCOMES },
    },
  ),
  stepDuration: histogram(
    'jr_agent_step_duration_seconds',
    'Run time of each step (each local try), by outcome.',
    ['outcome'],
    JOB_BUCKETS,
  ),
  rpcDuration: histogram(
    'jr_agent_rpc_duration_seconds',
    'Calls this agent made to the API, by method and status code name.',
    ['method', 'code'],
    RPC_BUCKETS,
  ),
  lastHeartbeat: gauge(
    'jr_agent_heartbeat_last_success_timestamp_seconds',
    'Unix time of the last heartbeat the API answered.',
  ),
  breakerOpen: gauge(
    'jr_agent_breaker_open',
    '1 while the status-reporting breaker is open (results spool to disk), else 0.',
  ),
  breakerOpened: counter('jr_agent_breaker_opened_total', 'Times the status-reporting breaker opened.'),
  apiEndpointSwitches: counter(
    'jr_agent_api_endpoint_switches_total',
    'Times this agent moved to another of its JR_API_GRPC endpoints, by kind (failover: the current one failed; failback: back to the primary).',
    ['kind'],
    { knownValues: { kind: ['failover', 'failback'] } },
  ),
  apiOnPrimary: gauge('jr_agent_api_on_primary', '1 while this agent talks to its primary API endpoint, else 0.'),
  outboxDepth: gauge('jr_agent_outbox_depth', 'Events waiting in the on-disk outbox.'),
  outboxOldestAge: gauge('jr_agent_outbox_oldest_age_seconds', 'Age of the oldest event in the outbox; 0 when empty.'),
  outboxReplayed: counter(
    'jr_agent_outbox_replayed_events_total',
    'Outbox events delivered to the API after reporting was re-enabled.',
  ),
  cancellations: counter(
    'jr_agent_cancellations_total',
    'Cancel directives received, by reason (lease_lost/superseded: the API fenced this agent off).',
    ['reason'],
    {
      knownValues: { reason: CANCEL_REASONS },
    },
  ),
  jobsRefused: counter(
    'jr_agent_jobs_refused_total',
    'Leased jobs this agent refused before running anything, by job reason and cause (signature_invalid: JR_JOB_VERIFY_KEYS; bad_signature means the job was changed after signing).',
    ['reason', 'cause'],
    {
      knownValues: { reason: REFUSAL_REASONS, cause: SIGNATURE_REFUSAL_CAUSES },
    },
  ),
};

export type ApiMetricDefs = typeof API_METRICS;
export type AgentMetricDefs = typeof AGENT_METRICS;
