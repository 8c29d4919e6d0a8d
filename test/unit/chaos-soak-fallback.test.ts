import { loadConfig } from '../../apps/api/src/config/config.schema';
import { FALLBACK_JOURNAL_MAX_BYTES } from '../chaos/soak/world';

// The chaos soak without root (no tmpfs) bounds the API's journal instead of filling a disk: that
// bound must be one the API accepts, or the soak's API never starts (it was 4MiB, below the 8MiB minimum).
it("the soak's non-root JR_JOURNAL_MAX_BYTES is accepted by the API's config, and is its smallest bound", () => {
  const base = { JR_ADMIN_TOKEN: 'admin-secret-of-at-least-32-characters', JR_ENROLL_TOKEN: 'enroll-secret' };
  const r = loadConfig({ ...base, JR_JOURNAL_MAX_BYTES: FALLBACK_JOURNAL_MAX_BYTES });
  expect(r.ok ? r.config.journalMaxBytes : r.errors).toBe(8 * 1024 * 1024);
});
