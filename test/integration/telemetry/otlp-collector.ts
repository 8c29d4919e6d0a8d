import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP/HTTP JSON export describes it, with the exporting service's name. */
export interface CollectedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind?: number;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
}

/**
 * An OTLP/HTTP collector on loopback (POST /v1/traces, JSON encoding): what jr-api and jr-agent
 * processes export when OTEL_EXPORTER_OTLP_ENDPOINT points here with OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
 */
export class OtlpCollector {
  readonly spans: CollectedSpan[] = [];
  readonly rejected: string[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpCollector> {
    const holder: { collector?: OtlpCollector } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        holder.collector?.receive(req.url ?? '', String(req.headers['content-type']), Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.collector = new OtlpCollector(server, `http://127.0.0.1:${port}`);
    return holder.collector;
  }

  /** Environment for a process exporting here, flushing batches every 100 ms. */
  get env(): Record<string, string> {
    return {
      OTEL_EXPORTER_OTLP_ENDPOINT: this.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private receive(path: string, contentType: string, body: Buffer): void {
    if (path !== '/v1/traces' || !contentType.includes('json')) {
      this.rejected.push(`${path} ${contentType}`);
      return;
    }
    const doc = JSON.parse(body.toString('utf8')) as OtlpExport;
    for (const rs of doc.resourceSpans ?? []) {
      const name = attributes(rs.resource?.attributes)['service.name'];
      const service = typeof name === 'string' ? name : '';
      for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) this.spans.push(toSpan(service, s));
    }
  }
}

function toSpan(service: string, s: OtlpSpan): CollectedSpan {
  return {
    service,
    name: s.name,
    traceId: hexId(s.traceId),
    spanId: hexId(s.spanId),
    parentSpanId: hexId(s.parentSpanId ?? ''),
    kind: s.kind ?? 0,
    attributes: attributes(s.attributes),
  };
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = Object.values(a.value)[0];
  return out;
}

/** OTLP JSON ids are hex; accept base64 too (the protobuf JSON mapping some exporters use). */
function hexId(id: string): string {
  if (id === '' || /^[0-9a-f]+$/i.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}
