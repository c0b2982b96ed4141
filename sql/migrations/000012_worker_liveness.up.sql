-- Worker liveness: a dead worker process's jobs are taken up again within
-- seconds, not after River's rescuer (which waits for a job to have run
-- longer than it ever could, then up to its 30 s interval, then the retry
-- schedule: 100 s and more after a crash).

-- worker_processes: each worker process (serve or worker) says every second
-- that it is alive. client_id is its River client's id, the one River
-- appends to river_job.attempted_by when the process fetches a job.
CREATE TABLE webhooks.worker_processes (
    client_id text PRIMARY KEY,
    host text NOT NULL,
    pid int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now()
);

-- rescue_jobs makes available again the running jobs whose process has not
-- been seen for stale_after_seconds while the caller was: alive_since is
-- when the caller's own beats last began to succeed. After an outage of the
-- database (or of the network to it) every process was silent, and each must
-- have had the time to be seen again before any is judged dead; a caller
-- that has just started judges the others after as long. It returns how many
-- jobs it rescued per process. Only processes that said they were alive and
-- then stopped: a process that never did (another version, a test's client)
-- is left to River's rescuer, as are jobs with no attempt left (River's
-- rescuer discards them). A rescued job keeps its scheduled_at, so it goes
-- to the front of its queue; its lost attempt is counted, as River's rescuer
-- counts it, and said in its errors. Run by several processes at once, a job
-- is rescued once: the second update finds it no longer running. Processes
-- gone for an hour are forgotten.
CREATE FUNCTION webhooks.rescue_jobs(stale_after_seconds float8, alive_since timestamptz)
RETURNS TABLE (client_id text, jobs int)
LANGUAGE sql VOLATILE AS $$
    WITH gone AS (
        SELECT p.client_id, p.seen_at FROM webhooks.worker_processes p
        WHERE greatest(p.seen_at, alive_since) < now() - make_interval(secs => stale_after_seconds)
    ), rescued AS (
        UPDATE river_job j
        SET state = 'available',
            errors = array_append(j.errors, jsonb_build_object(
                'at', now(), 'attempt', j.attempt, 'trace', '',
                'error', format('worker process %s stopped (last seen %s ago); job rescued', g.client_id, date_trunc('second', now() - g.seen_at))))
        FROM gone g
        WHERE j.state = 'running' AND j.attempted_by[array_length(j.attempted_by, 1)] = g.client_id
          AND j.attempt < j.max_attempts
        RETURNING g.client_id
    ), forgotten AS (
        DELETE FROM webhooks.worker_processes p
        WHERE p.seen_at < now() - interval '1 hour'
    )
    SELECT r.client_id, count(*)::int FROM rescued r GROUP BY r.client_id;
$$;
