DROP FUNCTION webhooks.rescue_jobs(float8, timestamptz);
DROP TABLE webhooks.worker_processes;
