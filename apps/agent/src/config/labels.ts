import { jobSpecSchema } from '@jr/contracts';

export type LabelsResult = { ok: true; labels: Record<string, string> } | { ok: false; message: string };

/**
 * Parses `JR_LABELS` ("k=v,k2=v2"). Keys and values follow the job document's label rules (the
 * same zod schema), so an agent can only advertise labels a job is able to ask for.
 */
export function parseLabels(raw: string): LabelsResult {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${part}" is not k=v`);
      continue;
    }
    const key = part.slice(0, eq).trim();
    if (seen.has(key)) problems.push(`label "${key}" given twice`);
    seen.set(key, part.slice(eq + 1).trim());
  }
  const labels = Object.fromEntries(seen);
  if (problems.length > 0) return { ok: false, message: `must be k=v,k2=v2: ${problems.join(', ')}` };
  const checked = jobSpecSchema.shape.labels.safeParse(labels);
  if (!checked.success) {
    const detail = checked.error.issues.map((i) =>
      i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message,
    );
    return { ok: false, message: `must be k=v,k2=v2: ${detail.join(', ')}` };
  }
  const dropped = [...seen.keys()].filter((k) => !Object.hasOwn(checked.data ?? {}, k));
  if (dropped.length > 0)
    return { ok: false, message: `must be k=v,k2=v2: label key not allowed: ${dropped.join(', ')}` };
  return { ok: true, labels };
}
