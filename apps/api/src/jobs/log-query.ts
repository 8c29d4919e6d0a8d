import { DomainError } from '@jr/contracts';
import { parseCursor, type SseCursor } from './log-text';

export interface LogQuery {
  follow: boolean;
  markers: boolean;
  /** Only with follow: the `Last-Event-ID` a reconnecting follower sent. */
  from?: SseCursor;
}

/** `GET /v1/jobs/:id/logs?follow=1&markers=1` with an optional `Last-Event-ID` header; bad values are a 400. */
export function logQuery(query: Record<string, unknown>, lastEventId: unknown): LogQuery {
  const follow = flag(query.follow, 'follow');
  const markers = flag(query.markers, 'markers');
  if (!follow || lastEventId === undefined || lastEventId === '') return { follow, markers };
  const from = typeof lastEventId === 'string' ? parseCursor(lastEventId) : undefined;
  if (!from)
    throw new DomainError(
      'INVALID_INPUT',
      'Last-Event-ID is not a position this API sent (reconnect without it to start over)',
    );
  return { follow, markers, from };
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new DomainError('INVALID_INPUT', `${name} must be 1 or 0`);
}
