import type { z } from 'zod';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { dispatcherFor, tlsFailureHint } from './api-trust';
import type { CliConfig } from './config';
import { ApiError, CliError, UnreachableError } from './cli-error';
import { EXIT, exitCodeForStatus, isTransientStatus } from './exit-codes';
import { problemSchema } from './api-schemas';
import { clean } from './output';
import { EndpointSelector, mayFailOver, notSentCode } from './endpoints';
import { Backoff, realClock, retryAfterMs, type Clock } from './timing';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  query?: Record<string, string | number | undefined>;
  body?: string;
  headers?: Record<string, string>;
  accept?: string;
  /** Extra tries after 429/503 (any method) or 500/502/504 (GET only). */
  retries?: number;
  /** Deadline of this request, when shorter than the configured one (a glance that must not hold the user up). */
  timeoutMs?: number;
  /** Message for a 404 (e.g. "unknown job j_…"). */
  notFound?: string;
  /** Message for a 409, given what the problem document said (if anything). */
  conflict?: (said: string | undefined) => string;
  /** Aborts the request and the reading of its body (a caller that stops following). */
  signal?: AbortSignal;
}

export interface JsonAnswer<T> {
  status: number;
  value: T;
}

const MAX_JSON_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
const RETRY_AFTER_CAP_MS = 10_000;
const DEFAULT_RETRIES = 2;

/** One try at one endpoint that got no answer: why, and whether the request can have been sent. */
interface NoAnswer {
  error: CliError;
  /** The connection was never made (refused, no such host): nothing reached that endpoint. */
  notSent: boolean;
  /** TLS did not verify: a configuration to fix, never an outage to route around. */
  untrusted: boolean;
}

/**
 * The REST client: undici's fetch (trusting the configured CA), a deadline on every request, `Authorization: Bearer`, and one
 * translation of failures into CliErrors (unreachable 69, auth 77, problem documents as one line).
 * With several endpoints (JR_API_URL=primary,other,…) a request that gets no answer (connection
 * refused or dropped, its deadline passed) or a 503 (or a 502/504 for a read) goes to the next one at
 * once, when that is safe (see mayFailOver); the endpoint that answered last is where later requests start.
 */
export class HttpClient {
  private readonly dispatchers = new Map<number, Promise<Dispatcher | undefined>>();
  private readonly endpoints: EndpointSelector;

  constructor(
    private readonly config: CliConfig,
    private readonly clock: Clock = realClock,
  ) {
    this.endpoints = new EndpointSelector(config.apiUrls);
  }

  /** The endpoint requests start at now (the primary until another one answered in its place). */
  get baseUrl(): string {
    return this.endpoints.url(this.endpoints.round()[0] ?? 0).href;
  }

  /** A JSON request whose answer is checked against `schema`. */
  async json<S extends z.ZodType>(
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<JsonAnswer<z.output<S>>> {
    const { response, done } = await this.send(path, { accept: 'application/json', ...options });
    try {
      const text = (await readBody(response, MAX_JSON_BYTES)).toString('utf8');
      return { status: response.status, value: parseAnswer(text, schema, path) };
    } finally {
      done();
    }
  }

  /** A request whose answer body (possibly empty, possibly not JSON) the caller only glances at. */
  async raw(path: string, options: RequestOptions = {}): Promise<{ status: number; body: Buffer }> {
    const { response, done } = await this.send(path, options);
    try {
      return { status: response.status, body: await readBody(response, MAX_ERROR_BYTES) };
    } finally {
      done();
    }
  }

  /** A request whose body the caller streams; the deadline covers only the wait for the headers. */
  async open(path: string, options: RequestOptions = {}): Promise<Response> {
    const { response, done } = await this.send(path, options);
    done();
    return response;
  }

  /**
   * Rounds over the endpoints (current one first): an answer ends it, unless it is one another
   * endpoint may do better with (503; 502/504 for a read), a request without answer goes on to the
   * next endpoint when mayFailOver. After a round: 429/503 (and transient read errors) are tried
   * again after Retry-After or a back-off, up to `retries` rounds; no answer anywhere is exit 69.
   */
  private async send(path: string, options: RequestOptions): Promise<{ response: Response; done: () => void }> {
    const method = options.method ?? 'GET';
    const retries = options.retries ?? DEFAULT_RETRIES;
    const idempotent = method === 'GET' || options.headers?.['idempotency-key'] !== undefined;
    const backoff = new Backoff(500, 4_000);
    for (let attempt = 0; ; attempt++) {
      const noAnswers: NoAnswer[] = [];
      let refused: { error: ApiError; waitMs: number | undefined; status: number } | undefined;
      for (const index of this.endpoints.round()) {
        const tried = await this.once(index, path, options);
        if ('error' in tried) {
          if (tried.untrusted || !mayFailOver(tried, { idempotent })) throw tried.error;
          noAnswers.push(tried);
          continue;
        }
        const { response, done } = tried;
        if (response.ok) {
          this.endpoints.answered(index);
          return tried;
        }
        const waitMs = retryAfterMs(response.headers.get('retry-after'), RETRY_AFTER_CAP_MS, this.clock.now());
        try {
          refused = { error: await errorFor(response, options), waitMs, status: response.status };
        } finally {
          done();
        }
        if (!shouldRetry(response.status, method)) {
          this.endpoints.answered(index);
          throw refused.error;
        }
        // rate limits are counted over all replicas: another endpoint would refuse it as well
        if (response.status === 429 || !elsewhere(response.status, method)) {
          this.endpoints.answered(index);
          break;
        }
      }
      if (!refused) throw unanswered(noAnswers);
      if (attempt >= retries) throw refused.error;
      await this.clock.sleep(refused.waitMs ?? backoff.next());
    }
  }

  private async once(
    index: number,
    path: string,
    options: RequestOptions,
  ): Promise<{ response: Response; done: () => void } | NoAnswer> {
    const base = this.endpoints.url(index);
    const url = this.urlAt(base, path, options.query);
    const controller = new AbortController();
    const timeoutMs = Math.min(this.config.requestTimeoutMs, options.timeoutMs ?? Infinity);
    const timer = setTimeout(
      () => controller.abort(new UnreachableError(`no answer from the API at ${base.href} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = (): void => clearTimeout(timer);
    let dispatcher: Dispatcher | undefined;
    try {
      dispatcher = await this.dispatcherAt(index);
    } catch (err) {
      done();
      // the pinned CA could not be learnt there: no request was sent
      const error = unreachable(err, base.href, 'cannot reach the API', this.config);
      return { error, notSent: true, untrusted: isTrustFailure(error) };
    }
    try {
      const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
      // undici's own fetch: Node's global one takes no dispatcher of another undici version
      const response = (await undiciFetch(url, {
        method: options.method ?? 'GET',
        headers: this.headers(options),
        body: options.body,
        signal,
        redirect: 'error',
        ...(dispatcher ? { dispatcher } : {}),
      })) as unknown as Response;
      return { response, done };
    } catch (err) {
      done();
      // the caller stopped (it follows no more): no other endpoint is asked
      if (options.signal?.aborted) throw unreachable(err, base.href, 'cannot reach the API', this.config);
      const error = unreachable(err, base.href, 'cannot reach the API', this.config);
      return { error, notSent: notSentCode(networkReason(err)), untrusted: isTrustFailure(error) };
    }
  }

  private dispatcherAt(index: number): Promise<Dispatcher | undefined> {
    let d = this.dispatchers.get(index);
    if (!d) {
      d = dispatcherFor(this.config, this.endpoints.url(index));
      // a failed discovery is tried again by the next request
      d.catch(() => this.dispatchers.delete(index));
      this.dispatchers.set(index, d);
    }
    return d;
  }

  private headers(options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { accept: options.accept ?? '*/*', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.config.token !== undefined) headers.authorization = `Bearer ${this.config.token}`;
    return headers;
  }

  /** `path` under the endpoint requests start at now. */
  url(path: string, query: RequestOptions['query'] = {}): URL {
    return this.urlAt(new URL(this.baseUrl), path, query);
  }

  private urlAt(base: URL, path: string, query: RequestOptions['query'] = {}): URL {
    const url = new URL(path.replace(/^\/+/, ''), base);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }
}

/** An answer another endpoint may do better with: "not accepting" (503), or a proxy's 502/504 for a read. */
function elsewhere(status: number, method: NonNullable<RequestOptions['method']>): boolean {
  return status === 503 || (method === 'GET' && (status === 502 || status === 504));
}

/** No endpoint answered: the one failure, or each endpoint's in one line. */
function unanswered(noAnswers: NoAnswer[]): CliError {
  const [first, ...rest] = noAnswers;
  if (!first) return new UnreachableError('cannot reach the API');
  if (rest.length === 0) return first.error;
  return new UnreachableError(`no endpoint of the API answered: ${noAnswers.map((n) => n.error.message).join('; ')}`);
}

function isTrustFailure(error: CliError): boolean {
  return error.message.startsWith('cannot trust ');
}

function shouldRetry(status: number, method: NonNullable<RequestOptions['method']>): boolean {
  if (status === 429 || status === 503) return true; // the server refused before doing anything
  return method === 'GET' && isTransientStatus(status);
}

/** The body's chunks; the stream is cancelled when the consumer stops early. */
export async function* bodyChunks(response: Response): AsyncGenerator<Uint8Array> {
  if (!response.body) return;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Reads a body up to `cap` bytes; a dropped connection while reading is "unreachable". */
export async function readBody(response: Response, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of bodyChunks(response)) {
      total += chunk.length;
      if (total > cap) throw new CliError(EXIT.BAD_ANSWER, `the API's answer is larger than ${cap} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw unreachable(err, 'the API', 'the connection dropped while reading the answer');
  }
  return Buffer.concat(chunks);
}

function parseAnswer<S extends z.ZodType>(text: string, schema: S, path: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(EXIT.BAD_ANSWER, `the API's answer to ${path} is not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(
      EXIT.BAD_ANSWER,
      `unexpected answer from the API to ${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Turns an error status into the CliError its exit code and message call for. */
async function errorFor(response: Response, options: RequestOptions): Promise<ApiError> {
  const status = response.status;
  const text = await readBody(response, MAX_ERROR_BYTES).then(
    (b) => b.toString('utf8'),
    () => '',
  );
  let problem: z.output<typeof problemSchema> | undefined;
  try {
    const parsed = problemSchema.safeParse(JSON.parse(text));
    problem = parsed.success ? parsed.data : undefined;
  } catch {
    problem = undefined;
  }
  const told = problem?.detail || problem?.title;
  const said = told ? clean(told, 500) : undefined;
  const details = (problem?.errors ?? []).map((e) => `  ${clean(e.path, 200)}: ${clean(e.message, 500)}`);
  const code = exitCodeForStatus(status);
  return new ApiError(code, messageFor(status, said, options, response.statusText), status, problem, details);
}

function messageFor(status: number, said: string | undefined, options: RequestOptions, statusText: string): string {
  const httpLine = `HTTP ${status} ${clean(statusText, 100)}`.trimEnd();
  const reason = said ?? httpLine;
  if (status === 401) return `authentication refused (401): ${reason}; set JR_TOKEN to an API token`;
  if (status === 403) return `permission refused (403): ${reason}`;
  if (status === 404 && options.notFound) return options.notFound;
  if (status === 409 && options.conflict) return options.conflict(said);
  if (said === undefined) return `the API answered ${httpLine}`;
  if (status === 400 || status === 422) return `the API refused the request: ${said}`;
  return `${said} (HTTP ${status})`;
}

/** A fetch failure as exit 69, with the OS reason (ECONNREFUSED, ENOTFOUND, …) when there is one. */
export function unreachable(
  err: unknown,
  where: string,
  what = 'cannot reach the API',
  trust?: Pick<CliConfig, 'caFile' | 'caPin'>,
): CliError {
  if (err instanceof CliError) return err;
  const reason = networkReason(err);
  const hint = trust ? tlsFailureHint(reason, trust) : undefined;
  if (hint) return new UnreachableError(`cannot trust the API at ${where} (${reason}): ${hint}`);
  return new UnreachableError(`${what} at ${where}${reason ? ` (${reason})` : ''}`);
}

/** The most precise reason in an error's cause chain: an OS code, else the innermost message. */
export function networkReason(err: unknown): string | undefined {
  let current: unknown = err;
  let message: string | undefined;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; errors?: unknown[]; cause?: unknown; message?: unknown };
    if (typeof e.code === 'string' && e.code !== '' && !e.code.startsWith('UND_ERR_')) return e.code;
    if (typeof e.message === 'string' && e.message !== '') message = e.message;
    current = Array.isArray(e.errors) && e.errors.length > 0 ? e.errors[0] : e.cause;
  }
  return message === undefined ? undefined : clean(message, 200);
}
