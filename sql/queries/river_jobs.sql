-- name: JobsDeleteCompleted :execrows
-- JobsDeleteCompleted deletes up to max_jobs of River's completed jobs
-- finalized before before, oldest first, through River's
-- river_job_state_and_finalized_at_index. It skips rows another cleaner
-- holds, so that processes cleaning at once share the work.
DELETE FROM river_job WHERE id IN (
    SELECT id FROM river_job
    WHERE state = 'completed' AND finalized_at < @before::timestamptz
    ORDER BY finalized_at
    LIMIT @max_jobs::int
    FOR UPDATE SKIP LOCKED
);
