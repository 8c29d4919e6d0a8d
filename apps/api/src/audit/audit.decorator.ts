import { SetMetadata } from '@nestjs/common';

export const AUDITED = 'jr:audited';

export interface AuditSpec {
  action: string;
  /** The route parameter naming the target (`id`), or a fixed target (`{ fixed: 'all' }`). */
  target?: string | { fixed: string };
  /**
   * `interceptor` (default): the audit interceptor writes the row once the handler settles.
   * `intake`: accepted submissions are written by the intake relay with the job row; only refusals here.
   */
  recordedBy?: 'interceptor' | 'intake';
}

/** Marks a mutating route: its calls (and refusals of them) go to the audit log. */
export const Audited = (spec: AuditSpec): MethodDecorator => SetMetadata(AUDITED, spec);
