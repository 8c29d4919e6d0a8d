import { compileCron, walkCron, type Visit } from './cron-source';
import { compileRrule } from './rrule-source';
import { walkRrule } from './rrule-walk';
import type { Trigger } from './schedule-spec';

/** A trigger ready to walk: its floating wall-clock times, and whether it runs on real time at fall-back. */
export interface CompiledTrigger {
  /** True for every-hour schedules (cron hour `*`, sub-daily RRULE without BYHOUR). */
  realTime: boolean;
  /** Visits the trigger's floating times in (fromF, toF], in order. */
  walk(fromF: number, toF: number, visit: Visit): void;
}

const MAX_CACHED = 256;
const cache = new Map<string, CompiledTrigger>();

/** The compiled form of a validated trigger (cached: an RRULE with COUNT is expanded once). */
export function compiledTrigger(trigger: Trigger, zone: string): CompiledTrigger {
  const key = trigger.kind === 'cron' ? `cron\u0000${trigger.cron}` : `rrule\u0000${zone}\u0000${trigger.rrule}`;
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = compile(trigger, zone);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, compiled);
  }
  return compiled;
}

function compile(trigger: Trigger, zone: string): CompiledTrigger {
  if (trigger.kind === 'cron') {
    const result = compileCron(trigger.cron);
    if (!result.ok) throw new Error(`invalid cron in a parsed schedule: ${result.message}`);
    const { expression, realTime } = result.cron;
    return { realTime, walk: (fromF, toF, visit) => walkCron(expression, fromF, toF, visit) };
  }
  const result = compileRrule(trigger.rrule, zone);
  if (!result.ok) throw new Error(`invalid rrule in a parsed schedule: ${result.message}`);
  const rrule = result.rrule;
  return { realTime: rrule.realTime, walk: (fromF, toF, visit) => walkRrule(rrule, fromF, toF, visit) };
}
