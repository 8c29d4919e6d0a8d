export { Journal, type JournalRecord, type JournalStats, type JournalRecovery } from './journal';
export type { JournalOptions } from './journal.options';
export {
  JournalClosedError,
  JournalCorruptError,
  JournalFailedError,
  JournalFullError,
  isNoSpaceError,
} from './journal.errors';
export type { JournalLogger, TruncationReport } from './segment.recovery';
export { HEADER_BYTES, MAX_RECORD_BYTES } from './record.codec';
export {
  formatPidFile,
  groupHasLiveMembers,
  groupHasLiveMembersSync,
  isProcessAlive,
  isSameProcess,
  ownIdentity,
  parsePidFile,
  parseProcStat,
  processGroupMembers,
  processStartTime,
  readProcStat,
  type ProcStat,
  type ProcessIdentity,
} from './process-liveness';
