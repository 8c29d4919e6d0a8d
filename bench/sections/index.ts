/**
 * Every section of `npm run bench`, in run order. Each one starts what it needs (its own jr-api,
 * database, key prefix, agents) and removes it before it returns or throws.
 */
import type { BenchSection } from '../lib/report';
import { costSection } from './cost';
import { dispatchSection } from './dispatch';
import { fleetJobSection } from './fleet-job';
import { fleetScale } from './fleet-scale';
import { footprintSection } from './footprint';
import { intakeSection } from './intake';
import { recovery } from './recovery';
import { relayLagSection } from './relay-lag';
import { throughputSection } from './throughput';
import { tlsCostSection } from './tls-cost';

export const SECTIONS: ReadonlyArray<{ id: string; run: BenchSection }> = [
  { id: 'intake', run: intakeSection },
  { id: 'relay-lag', run: relayLagSection },
  { id: 'dispatch', run: dispatchSection },
  { id: 'cost', run: costSection },
  { id: 'tls', run: tlsCostSection },
  { id: 'throughput', run: throughputSection },
  { id: 'fleet', run: fleetScale },
  { id: 'fleet-job', run: fleetJobSection },
  { id: 'recovery', run: recovery },
  { id: 'footprint', run: footprintSection },
];
