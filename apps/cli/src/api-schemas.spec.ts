import { JOB_REASONS } from '@jr/contracts';
import { jobViewSchema } from './api-schemas';
import { exitCodeForJob } from './exit-codes';

const failedWith = (reason: string): unknown => ({ id: 'j_1', state: 'failed', reason, attempts: [], exitCode: 1 });

describe('job answers', () => {
  it.each(JOB_REASONS.map((r) => [r]))(
    'read every reason the API sets (%s) and give it an outcome code, never 70',
    (reason) => {
      const job = jobViewSchema.parse(failedWith(reason));
      expect(job.reason).toBe(reason);
      expect(exitCodeForJob(job.state, job.reason)).toBe(reason === 'attempts_exhausted' ? 6 : 1);
    },
  );

  it('read a failed job with checksum_mismatch (the reason the CLI once lacked) as failed, exit 1', () => {
    const job = jobViewSchema.parse(failedWith('checksum_mismatch'));
    expect(exitCodeForJob(job.state, job.reason)).toBe(1);
  });

  it('keep a reason from a newer API as text', () => {
    const job = jobViewSchema.parse(failedWith('quota_exceeded_in_2030'));
    expect(job.reason).toBe('quota_exceeded_in_2030');
    expect(exitCodeForJob(job.state, job.reason)).toBe(1);
  });

  it('fill the run-time fields an older API does not send', () => {
    const job = jobViewSchema.parse({ id: 'j_1', state: 'queued' });
    expect(job).toMatchObject({ steps: [], failedStep: null, waiting: null, startedAt: null, durationMs: null });
  });
});
