-- name: WorkerProcessBeat :one
-- WorkerProcessBeat says that the process with this River client is alive,
-- and returns the time it was seen, by the database's clock.
INSERT INTO webhooks.worker_processes (client_id, host, pid)
VALUES (@client_id, @host, @pid)
ON CONFLICT (client_id) DO UPDATE SET seen_at = now()
RETURNING seen_at;

-- name: WorkerProcessDelete :exec
-- WorkerProcessDelete forgets a process that stopped gracefully: it has no
-- jobs left running.
DELETE FROM webhooks.worker_processes WHERE client_id = @client_id;

-- name: JobsRescue :many
-- JobsRescue makes available again the running jobs of processes not seen
-- for stale_after_seconds while the caller, alive since alive_since, was
-- (webhooks.rescue_jobs), and returns how many per process.
SELECT r.client_id::text AS client_id, r.jobs::int AS jobs
FROM webhooks.rescue_jobs(@stale_after_seconds::float8, @alive_since::timestamptz) r;
