import * as path from 'node:path';
import { DEFAULT_SLO_DOCUMENT, generateSloRules } from '@jr/contracts';
import { readSloFile } from '../../apps/api/src/config/slo-file';
import { loadConfig } from '../../apps/api/src/config/config.schema';

// The objectives file of the docs is one the API accepts, and bad files stop it with one clear line.
const EXAMPLE = path.resolve(__dirname, '../../docs/examples/slo.yaml');

describe('docs/examples/slo.yaml', () => {
  it('is read, checked and turned into rules', () => {
    const doc = readSloFile(EXAMPLE);
    expect(doc.objectives.map((o) => o.name)).toEqual([
      'submissions-accepted',
      'pickup-2s',
      'canaries-30s',
      'api-errors',
    ]);
    expect(doc.objectives[3]).toMatchObject({ windowMs: 7 * 86_400_000, indicator: { ratioMetric: {} } });
    expect(generateSloRules(doc)).toContain('JrSloApiErrorsBurnRate14x');
  });

  it('names the file and the problem when JR_SLO_FILE is bad; the built-in objectives without one', () => {
    const base = { JR_DEV: '1' };
    const missing = loadConfig({ ...base, JR_SLO_FILE: '/nonexistent/slo.yaml' });
    expect(missing).toMatchObject({ ok: false });
    expect(JSON.stringify(missing)).toContain('cannot read /nonexistent/slo.yaml');
    const none = loadConfig(base);
    expect(none.ok && none.config.slo).toEqual(DEFAULT_SLO_DOCUMENT);
    expect(loadConfig({ ...base, JR_CANARY_INTERVAL: '500ms' })).toMatchObject({ ok: false });
    expect(loadConfig({ ...base, JR_CANARY_POOLS: 'ok,Not A Pool' })).toMatchObject({ ok: false });
  });
});
