import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import type { Distribution, Incident, SloObjectiveReport, SloReport } from '@jr/contracts';
import { ensureChromium, renderInChromium } from '@jr/testing';
import { renderSloHtml } from '../../apps/cli/src/slo-html';

// The HTML SLO report in a real browser: what `jr slo report --html` writes must parse, draw its
// charts and stay within itself (the browser runs with name resolution off). Checked on the DOM the
// browser built and on the pixels of its screenshot, so "renders" means more than "is a string".

const DAY = 86_400_000;
const MIN = 60_000;
const TO = Date.parse('2026-03-16T00:00:00.000Z');
const FROM = TO - 30 * DAY;
const iso = (t: number): string => new Date(t).toISOString();

/** A deterministic pseudo-random sequence (the fixture must be the same on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** 30 daily buckets of `perDay` events; `bad(day, rnd)` bad ones, `null` for a day without traffic. */
function objective(
  name: string,
  displayName: string,
  target: number,
  perDay: number,
  bad: (day: number, rnd: () => number) => number | null,
): SloObjectiveReport {
  const rnd = lcg(name.length * 7919);
  const series = Array.from({ length: 30 }, (_, day) => {
    const b = bad(day, rnd);
    return { from: iso(FROM + day * DAY), good: b === null ? 0 : perDay - b, total: b === null ? 0 : perDay };
  });
  const good = series.reduce((s, b) => s + b.good, 0);
  const total = series.reduce((s, b) => s + b.total, 0);
  const attainment = good / total;
  const burnRate = (1 - attainment) / (1 - target);
  const sli = name.startsWith('pickup')
    ? 'pickup_latency'
    : name.startsWith('canar')
      ? 'canary_success'
      : 'submissions_accepted';
  const met = attainment >= target;
  return {
    name,
    displayName,
    sli,
    target,
    good,
    total,
    attainment,
    budgetRemaining: 1 - burnRate,
    burnRate,
    met,
    series,
  };
}

function incident(
  n: number,
  cause: Incident['cause'],
  scope: string,
  startDay: number,
  minutes: number | null,
): Incident {
  const startedAt = FROM + startDay * DAY;
  const outage = ['dependency_down', 'intake_refusing', 'sli_violated'].includes(cause);
  const durationMs = minutes === null ? TO - startedAt : minutes * MIN;
  const endedAt = minutes === null ? null : iso(startedAt + durationMs);
  const detail = `${cause} on ${scope} <seen by r${n % 2}> & "logged"`;
  return {
    id: `inc_${n}`,
    cause,
    scope,
    replica: `r${n % 2}`,
    startedAt: iso(startedAt),
    endedAt,
    durationMs,
    outage,
    detail,
  };
}

function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const meanMs = values.reduce((a, b) => a + b, 0) / values.length;
  return { count: values.length, p50Ms: at(0.5), p90Ms: at(0.9), maxMs: at(1), meanMs };
}

/** Three objectives: one had a bad day, one two days without traffic, one is failing at the end. */
function objectives(): SloObjectiveReport[] {
  return [
    objective('submissions-accepted', '99.9 % of valid submissions accepted', 0.999, 50_000, (d, r) =>
      d === 3 ? 420 : Math.round(r() * 30),
    ),
    objective('pickup-2s', '99 % of jobs picked up within 2 s', 0.99, 20_000, (d, r) =>
      d === 8 || d === 9 ? null : Math.round(r() * 250),
    ),
    objective('canaries-30s', '99.9 % of canaries < 30 s & "green"', 0.999, 288, (d, r) =>
      d >= 29 ? 12 : r() < 0.1 ? 1 : 0,
    ),
  ];
}

/** 3 objectives over 30 days, four outages (one still going on) and two degradations. */
function fixture(): SloReport {
  const incidents = [
    incident(1, 'dependency_down', 'postgres', 3.4, 14),
    incident(2, 'intake_refusing', 'api', 11.2, 6),
    incident(3, 'breaker_open', 'agent-17', 15.5, 120),
    incident(4, 'replica_lost', 'r2', 20.1, 30),
    incident(5, 'dependency_down', 'redis', 24.8, 3),
    incident(6, 'sli_violated', 'canaries-30s', 29.5, null),
  ];
  const outages = incidents.filter((i) => i.outage);
  const downtimeMs = outages.reduce((s, i) => s + i.durationMs, 0);
  const ended = outages.filter((i) => i.endedAt !== null);
  const gaps = outages.slice(1).map((i, k) => Date.parse(i.startedAt) - Date.parse(outages[k]?.endedAt as string));
  const [mtbf, mttr] = [distribution(gaps), distribution(ended.map((i) => i.durationMs))];
  return {
    window: { from: iso(FROM), to: iso(TO), ms: 30 * DAY },
    objectives: objectives(),
    availability: 1 - downtimeMs / (30 * DAY),
    availabilityFromMtbf: mtbf.meanMs / (mtbf.meanMs + mttr.meanMs),
    uptimeMs: 30 * DAY - downtimeMs,
    downtimeMs,
    mtbf,
    mttr,
    theoretical: {
      availability: 0.9995 * 0.999 * 0.9999,
      dependencies: [
        { name: 'postgres', availability: 0.9995, measured: 0.99967 },
        { name: 'redis', availability: 0.999, measured: 0.99993 },
        { name: 'journal disk', availability: 0.9999, measured: null },
      ],
    },
    incidents: [...incidents].reverse(),
  };
}

// ---- PNG reading, just enough to look at the pixels (no image library in the repo) ----

interface Image {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The Paeth predictor of PNG filter type 4. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters of a non-interlaced 8-bit PNG (RFC 2083 §6), in place of an image library. */
function unfilter(raw: Buffer, width: number, height: number, bpp: number): Buffer {
  const stride = width * bpp;
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    if (filter > 4) throw new Error(`PNG filter ${filter} unknown`);
    const [src, row, up] = [y * (stride + 1) + 1, y * stride, (y - 1) * stride];
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (out[row + x - bpp] as number) : 0;
      const b = y > 0 ? (out[up + x] as number) : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) predictor = paeth(a, b, x >= bpp && y > 0 ? (out[up + x - bpp] as number) : 0);
      out[row + x] = ((raw[src + x] as number) + predictor) & 0xff;
    }
  }
  return out;
}

function decodePng(png: Buffer): Image {
  const idat: Buffer[] = [];
  let [width, height, channels] = [0, 0, 0];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      expect({ depth: data[8], interlace: data[12] }).toEqual({ depth: 8, interlace: 0 });
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[data[9] as number] ?? 0;
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const pixels = unfilter(inflateSync(Buffer.concat(idat)), width, height, channels);
  return { width, height, channels, pixels };
}

/** How many pixels have each RGB colour (keyed 0xrrggbb). */
function colourCounts(img: Image): Map<number, number> {
  const counts = new Map<number, number>();
  const p = img.pixels;
  for (let i = 0; i + 2 < p.length; i += img.channels) {
    const key = ((p[i] as number) << 16) | ((p[i + 1] as number) << 8) | (p[i + 2] as number);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The `<svg>` elements of one kind in the DOM the browser serialised. */
const chartsOf = (dom: string, kind: string): string[] =>
  [...dom.matchAll(/<svg\b[^>]*>[\s\S]*?<\/svg>/g)].map((m) => m[0]).filter((s) => s.includes(`data-chart="${kind}"`));

const coordinates = (text: string): number => (text.match(/-?\d+(\.\d+)?/g) ?? []).length;

describe('the HTML SLO report in headless Chromium', () => {
  const report = fixture();
  let dir: string;
  let dom: string;
  let png: Buffer;
  beforeAll(() => {
    let started = Date.now();
    ensureChromium();
    console.log(`chromium ready in ${Date.now() - started} ms`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-slo-html-'));
    const [htmlFile, pngFile] = [path.join(dir, 'report.html'), path.join(dir, 'report.png')];
    fs.writeFileSync(htmlFile, renderSloHtml(report, { title: 'jr <staging> & "friends"', generatedAt: new Date(TO) }));
    started = Date.now();
    dom = renderInChromium(htmlFile, pngFile).dom;
    console.log(`rendered (screenshot + DOM) in ${Date.now() - started} ms`);
    png = fs.readFileSync(pngFile);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has every chart in the DOM it built, each with drawn geometry', () => {
    const attainment = chartsOf(dom, 'attainment');
    const budget = chartsOf(dom, 'budget');
    const incidents = chartsOf(dom, 'incidents');
    expect([attainment.length, budget.length, incidents.length]).toEqual([3, 3, 1]);
    for (const svg of [...attainment, ...budget]) {
      const d = /<path[^>]*\bd="([^"]+)"/.exec(svg)?.[1] ?? '';
      expect(coordinates(d)).toBeGreaterThan(40);
      expect(svg).toMatch(/role="img"/);
      expect(svg).toMatch(/aria-label="[^"]+"/);
    }
    // The two days without pickups are a gap: the line restarts once.
    expect((/<path[^>]*\bd="([^"]+)"/.exec(attainment[1] as string)?.[1] ?? '').match(/M/g)).toHaveLength(2);
    expect(incidents[0]?.match(/<rect[^>]*class="incident/g)).toHaveLength(report.incidents.length);
    expect(incidents[0]?.match(/<rect[^>]*class="incident outage/g)).toHaveLength(4);
  });

  it('got names and details as text, not markup', () => {
    expect(dom).toContain('99.9 % of canaries &lt; 30 s &amp; "green"');
    expect(dom).toContain('&lt;seen by r1&gt;');
    expect(dom).not.toMatch(/<seen|<staging|<script/);
  });

  it("painted the page: a valid PNG with the charts' colours in it", () => {
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.length).toBeGreaterThan(20_000);
    const img = decodePng(png);
    expect([img.width, img.height]).toEqual([1280, 2000]);
    const colours = colourCounts(img);
    // A blank or unstyled page has a handful of colours; charts with anti-aliased lines have hundreds.
    expect(colours.size).toBeGreaterThan(50);
    expect(colours.get(0x1f6feb) ?? 0).toBeGreaterThan(100); // series lines and dots
  });
});
