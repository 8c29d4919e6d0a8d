-- jobrunner schema v3: the W3C trace context of a job's intake relay span ({"traceparent": …}), so that
-- every enqueue of the job (first, retries, requeues after a lost agent, reconciliation after Redis
-- lost its data) continues the one trace the job started with at POST /v1/jobs. NULL for jobs from
-- before tracing, or whose record carried no context: those jobs simply start a new trace when queued.
ALTER TABLE jobs ADD COLUMN trace jsonb;
