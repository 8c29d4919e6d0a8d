import type { JournalLogger } from './segment.recovery';

export interface JournalOptions {
  /** Created if missing (recursive); directory entries are fsync'd on create/rename/unlink. */
  dir: string;
  /** Default 64 MiB: rotate to a new segment file when the next record would exceed it. */
  segmentMaxBytes?: number;
  /**
   * Default Infinity: bytes of segments not yet wholly checkpointed; an append that would exceed it
   * rejects with JournalFullError (nothing written).
   */
  maxTotalBytes?: number;
  /** Default true (false only for benchmarks' reference runs). */
  fsync?: boolean;
  /** Addition: where recovery reports what it truncated. Default: console.warn. */
  logger?: JournalLogger;
  /** Called after each fdatasync of a batch with its duration in seconds (metrics); must not throw. */
  onSync?: (seconds: number) => void;
}

export interface JournalConfig {
  dir: string;
  segmentMaxBytes: number;
  maxTotalBytes: number;
  fsync: boolean;
  logger: JournalLogger;
  onSync?: (seconds: number) => void;
}

export const DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024;

const consoleLogger: JournalLogger = {
  warn: (message, details) => console.warn(message, details ?? {}),
};

/** Validates options once, listing every bad one. */
export function parseJournalOptions(options: JournalOptions): JournalConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('journal options must be an object');
  const problems: string[] = [];
  const {
    dir,
    segmentMaxBytes = DEFAULT_SEGMENT_MAX_BYTES,
    maxTotalBytes = Infinity,
    fsync = true,
    logger = consoleLogger,
    onSync,
  } = options;
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) problems.push('dir must be a non-empty path');
  if (!Number.isSafeInteger(segmentMaxBytes) || segmentMaxBytes < 1)
    problems.push('segmentMaxBytes must be a positive integer');
  if (typeof maxTotalBytes !== 'number' || Number.isNaN(maxTotalBytes) || maxTotalBytes <= 0) {
    problems.push('maxTotalBytes must be a positive number (or Infinity)');
  }
  if (typeof fsync !== 'boolean') problems.push('fsync must be a boolean');
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')
    problems.push('logger must have a warn function');
  if (onSync !== undefined && typeof onSync !== 'function') problems.push('onSync must be a function');
  if (problems.length > 0) throw new RangeError(`invalid journal options: ${problems.join('; ')}`);
  return { dir, segmentMaxBytes, maxTotalBytes, fsync, logger, ...(onSync ? { onSync } : {}) };
}
