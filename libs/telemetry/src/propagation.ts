import { context, ROOT_CONTEXT, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * W3C trace context as a plain object (`traceparent`, and `tracestate` when present): what we store in
 * BullMQ job data, intake journal records and (later) proto fields. Both ends are ours, so the format
 * is fixed to W3C tracecontext whatever OTEL_PROPAGATORS says.
 */
export type TraceCarrier = Record<string, string>;

/** The smallest part of grpc-js `Metadata` we need, so this library does not load grpc-js. */
export interface MetadataReader {
  get(key: string): ReadonlyArray<string | Uint8Array>;
}
export interface MetadataWriter {
  set(key: string, value: string): void;
}

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';
/** `00-<32 hex>-<16 hex>-<2 hex>` is 55 characters; later versions may append fields. */
const MAX_TRACEPARENT_LENGTH = 256;
/** The W3C limit: 32 list members of at most 256 characters, plus separators. */
const MAX_TRACESTATE_LENGTH = 512 + 32 * 256;

const propagator = new W3CTraceContextPropagator();

const recordSetter: TextMapSetter<TraceCarrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const recordGetter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** The trace context of `ctx` (default: the active one) as a carrier; `{}` when there is no valid span. */
export function injectToCarrier(ctx: Context = context.active()): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagator.inject(ctx, carrier, recordSetter);
  return carrier;
}

/**
 * The context a carrier describes, on top of `base` (default: the root context, so a job's spans never
 * hang under whatever happens to be active). Anything malformed (not an object, wrong types, oversized,
 * a bad traceparent) yields `base` unchanged: a carrier comes from Redis, disk or the network.
 */
export function extractFromCarrier(carrier: unknown, base: Context = ROOT_CONTEXT): Context {
  const clean = sanitise(carrier);
  if (!clean) return base;
  return propagator.extract(base, clean, recordGetter);
}

/** Writes the trace context of `ctx` (default: the active one) into gRPC metadata; returns `metadata`. */
export function metadataFromContext<M extends MetadataWriter>(metadata: M, ctx: Context = context.active()): M {
  for (const [key, value] of Object.entries(injectToCarrier(ctx))) metadata.set(key, value);
  return metadata;
}

/** The context carried by incoming gRPC metadata (one `traceparent` value, else `base`). */
export function contextFromMetadata(metadata: MetadataReader, base: Context = ROOT_CONTEXT): Context {
  const carrier: Record<string, unknown> = {};
  for (const key of [TRACEPARENT, TRACESTATE]) {
    let values: ReadonlyArray<string | Uint8Array>;
    try {
      values = metadata.get(key);
    } catch {
      return base;
    }
    if (!Array.isArray(values) || values.length === 0) continue;
    // Two traceparent headers are invalid per W3C; several tracestate values are joined.
    if (key === TRACEPARENT && values.length > 1) return base;
    if (values.some((v) => typeof v !== 'string')) continue;
    carrier[key] = values.join(',');
  }
  return extractFromCarrier(carrier, base);
}

function sanitise(carrier: unknown): TraceCarrier | undefined {
  if (typeof carrier !== 'object' || carrier === null || Array.isArray(carrier)) return undefined;
  const traceparent = own(carrier, TRACEPARENT);
  if (typeof traceparent !== 'string' || traceparent.length > MAX_TRACEPARENT_LENGTH) return undefined;
  const out: TraceCarrier = { [TRACEPARENT]: traceparent };
  const tracestate = own(carrier, TRACESTATE);
  if (typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE_LENGTH) out[TRACESTATE] = tracestate;
  return out;
}

function own(obj: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}
