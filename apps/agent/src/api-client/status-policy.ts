import { status as Status } from '@grpc/grpc-js';

/** What the agent does when a call fails with a given gRPC status. */
export type StatusAction =
  /** Transient: try again later with jittered backoff. */
  | 'retry'
  /** Unrecoverable: stop the agent with a clear message and a non-zero exit. */
  | 'stop'
  /** The attempt's lease is no longer ours: stop reporting it and kill its process. */
  | 'superseded'
  /** The request itself is wrong (a bug): log it and drop that request; retrying cannot help. */
  | 'drop';

export type AgentMethod = 'Enroll' | 'Heartbeat' | 'Lease' | 'Report' | 'Complete';

/**
 * THE table: every gRPC status code and what the agent does about it, with why. Buildkite's agent
 * taught us to keep this in one place; agents that loop on 401 or give up on a 503 are the bugs
 * users of peers complain about.
 */
export const STATUS_POLICY: Readonly<Record<Status, { action: StatusAction; why: string }>> = {
  [Status.OK]: { action: 'retry', why: 'not an error; listed so the table is total' },
  [Status.CANCELLED]: {
    action: 'retry',
    why: 'the call was cancelled in flight (channel reset, server going away); our own cancellations never reach this table',
  },
  [Status.UNKNOWN]: {
    action: 'retry',
    why: 'an unexpected server-side throw or a broken proxy answer; usually transient',
  },
  [Status.INVALID_ARGUMENT]: {
    action: 'drop',
    why: 'the API refused the request as malformed: a bug on one side; resending the same bytes cannot succeed',
  },
  [Status.DEADLINE_EXCEEDED]: {
    action: 'retry',
    why: 'the API or the network was slow; the call is idempotent (the API dedups on seq, leases by token)',
  },
  [Status.NOT_FOUND]: {
    action: 'drop',
    why: 'the API does not know what we refer to (e.g. a purged job); resending will not make it exist',
  },
  [Status.ALREADY_EXISTS]: { action: 'drop', why: 'the API already holds it: nothing left to send' },
  [Status.PERMISSION_DENIED]: {
    action: 'stop',
    why: 'our credential is valid but not allowed: an operator must act; looping would hammer the API',
  },
  [Status.RESOURCE_EXHAUSTED]: { action: 'retry', why: 'rate limited or overloaded: back off and try again' },
  [Status.FAILED_PRECONDITION]: {
    action: 'retry',
    why: 'the API is not ready for this call right now (Report/Complete: see SUPERSEDED_METHODS)',
  },
  [Status.ABORTED]: {
    action: 'retry',
    why: 'a concurrency conflict on the server (e.g. a transaction retry): try again',
  },
  [Status.OUT_OF_RANGE]: {
    action: 'drop',
    why: 'the request asks for something outside what the API accepts: a bug, resending cannot help',
  },
  [Status.UNIMPLEMENTED]: { action: 'stop', why: 'the API does not speak this protocol version: upgrade one side' },
  [Status.INTERNAL]: {
    action: 'retry',
    why: 'a server bug or a broken stream; often transient (a restart), and dropping would lose results',
  },
  [Status.UNAVAILABLE]: {
    action: 'retry',
    why: 'the API is down or unreachable: the normal outage case, recover promptly when it returns',
  },
  [Status.DATA_LOSS]: { action: 'retry', why: 'the server could not store the data: keep ours and send it again' },
  [Status.UNAUTHENTICATED]: {
    action: 'stop',
    why: 'our credential is refused; the client re-enrolls once first when it can, then stops instead of looping',
  },
};

/** Report and Complete are fenced by the lease token: FAILED_PRECONDITION there means "superseded". */
const SUPERSEDED_METHODS: ReadonlySet<AgentMethod> = new Set(['Report', 'Complete']);

/**
 * UNAVAILABLE because the TLS handshake failed verification (grpc-js puts the reason in the details):
 * the API's certificate is not one we trust, or it does not speak TLS. Retrying cannot fix it; an
 * operator must (JR_CA_FILE, JR_API_CA_SHA256), so the agent stops with exit 76 instead of looping.
 */
const TLS_VERIFY_RE =
  /certificate|self[- ]signed|unable to verify|UNABLE_TO_|CERT_|altnames|does not match certificate|wrong version number/i;

export function actionFor(code: Status, method: AgentMethod, details = ''): StatusAction {
  if (code === Status.UNAVAILABLE && TLS_VERIFY_RE.test(details)) return 'stop';
  if (code === Status.FAILED_PRECONDITION && SUPERSEDED_METHODS.has(method)) return 'superseded';
  return STATUS_POLICY[code]?.action ?? 'retry';
}
