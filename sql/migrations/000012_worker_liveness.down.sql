DROP FUNCTION webhooks.rescue_jobs(float8);
DROP TABLE webhooks.worker_processes;
