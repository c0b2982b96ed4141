-- River's table, leaner: in a 30-minute soak (1,500 deliveries/s, jobs kept
-- 10 minutes) its rows stayed at a million from minute 11, but its GIN index
-- on args grew from 168 MB at minute 9 to 463 MB at minute 26, larger than
-- the table, and commit-to-arrival p99 grew with it, from 66 to 400 ms.
-- Every version of every job (three a delivery: available, running,
-- completed) enters a GIN index under every key and value of its args, and
-- a few of those (webhookId, eventType) are in every job: their posting
-- trees take every insert and vacuum does not shrink them. River reindexes
-- it once a day; at this rate that is a day of growth.

-- No query of River, of River UI or of ours reads args with @>; an
-- operator's ad-hoc query on river_job's args reads the table instead. The
-- River client is told not to reindex it (jobs.riverReindexed).
DROP INDEX IF EXISTS river_job_args_index;

-- message_status finds a message's next attempt among the jobs still to
-- run: only those are indexed, so a job enters this index once (when
-- inserted), not at each of its three versions. Building it reads
-- river_job once, holding its writers for that long (River keeps completed
-- jobs an hour by default).
DROP INDEX river_job_webhooks_message_id_idx;
CREATE INDEX river_job_webhooks_message_id_idx ON river_job ((args ->> 'messageId'))
    WHERE kind = 'webhook_deliver' AND state IN ('available', 'scheduled', 'retryable');
