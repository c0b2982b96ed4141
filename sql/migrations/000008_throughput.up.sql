-- Throughput: an event is rendered for receivers once, at expansion; attempts
-- are recorded in batches; nothing is taken per delivery of a webhook in turn.

-- receiver_payload and receiver_previous_attributes are payload and
-- previous_attributes as a receiver gets them (webhooks.payload), rendered
-- once when the event is expanded rather than at every delivery and attempt.
-- Null until then; a delivery of an older row renders it itself.
ALTER TABLE webhooks.outbox
    ADD COLUMN receiver_payload json,
    ADD COLUMN receiver_previous_attributes json;

-- A message's state changes at each attempt. Indexed, it made every such
-- update write a new entry in each of the table's indexes; unindexed, with
-- room left on each page, the update stays on the page (a HOT update). The
-- API's state filter reads a webhook's messages by (webhook_id, created_at).
DROP INDEX webhooks.messages_webhook_id_state_idx;
ALTER TABLE webhooks.messages SET (fillfactor = 70);

-- In-flight caps are counted in each worker process's memory now: a table
-- every delivery of a webhook had to lock in turn was the queue behind it.
DROP TABLE webhooks.inflight;

-- record_attempts writes a batch of attempts, made by concurrent deliveries,
-- in one statement of one transaction (group commit): each attempt, numbered
-- on from the message's earlier ones whichever job made them (the message's
-- attempts counts them); each message's
-- state from its latest attempt; and each webhook's health only where it
-- changes: failing_since cleared by a success or set by a failure where it
-- was not, last_success_at at most once a minute while it succeeds. A
-- success in the batch wins over failures of the same webhook in it. It
-- returns, for each webhook that only failed in the batch, since when it has
-- been failing and whether that is longer than disable_after_seconds.
-- PL/pgSQL, not SQL: it keeps its statements' plans for the session, where a
-- SQL function plans them again at every call (half its time, measured).
CREATE FUNCTION webhooks.record_attempts(records json, disable_after_seconds float8)
RETURNS TABLE (webhook_id text, failing_since timestamptz, past_disable_after boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    -- The messages first: their rows locked, a batch racing this one for
    -- the same message (a rescued job beside the one still running) waits,
    -- then numbers its attempts after these.
    WITH r AS (
        SELECT * FROM json_to_recordset(records) AS r (n int, message_id text, event_id text, webhook_id text, workspace_id text,
            event_type text, url text, started_at timestamptz, duration_ms float8, succeeded boolean, status_code int,
            error_class text, error_message text, response_excerpt text, river_job_id bigint, state text, last_error text)
    ), latest AS (
        SELECT DISTINCT ON (r.message_id) r.message_id, r.state, r.status_code, r.last_error,
            count(*) OVER (PARTITION BY r.message_id) AS made
        FROM r
        ORDER BY r.message_id, r.n DESC
    ), message AS (
        UPDATE webhooks.messages m
        SET state = l.state, last_status_code = l.status_code, last_error = l.last_error, updated_at = now(),
            attempts = m.attempts + l.made
        FROM latest l
        -- The ids as an array too: json_to_recordset is estimated at 100
        -- rows, and the join alone plans a scan of every message.
        WHERE m.id = l.message_id
          AND m.id = ANY (ARRAY(SELECT x.message_id FROM json_to_recordset(records) AS x (message_id text)))
        RETURNING m.id, m.attempts - l.made AS earlier
    )
    INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
        started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id)
    SELECT r.message_id, r.event_id, r.webhook_id, r.workspace_id, r.event_type,
        message.earlier + row_number() OVER (PARTITION BY r.message_id ORDER BY r.n),
        r.url, r.started_at, r.duration_ms, r.succeeded, r.status_code, r.error_class, r.error_message,
        r.response_excerpt, r.river_job_id
    FROM r JOIN message ON message.id = r.message_id
    ORDER BY r.n;

    UPDATE webhooks.webhooks w
    SET failing_since = NULL, last_success_at = now()
    WHERE w.id = ANY (ARRAY(SELECT r.webhook_id FROM json_to_recordset(records) AS r (webhook_id text, succeeded boolean) WHERE r.succeeded))
      AND (w.failing_since IS NOT NULL OR w.last_success_at IS NULL OR w.last_success_at < now() - interval '1 minute');

    RETURN QUERY WITH failed AS (
        SELECT r.webhook_id FROM json_to_recordset(records) AS r (webhook_id text, succeeded boolean)
        GROUP BY r.webhook_id HAVING NOT bool_or(r.succeeded)
    ), marked AS (
        UPDATE webhooks.webhooks w SET failing_since = now()
        WHERE w.id = ANY (ARRAY(SELECT f.webhook_id FROM failed f)) AND w.failing_since IS NULL
        RETURNING w.id
    )
    SELECT w.id, coalesce(w.failing_since, now()),
        coalesce(w.failing_since < now() - make_interval(secs => disable_after_seconds), false)
    FROM webhooks.webhooks w
    WHERE w.id = ANY (ARRAY(SELECT f.webhook_id FROM failed f));
END
$$;

-- park_deliveries puts up to max_jobs of a webhook's available delivery
-- jobs aside, as River's snooze does one job: scheduled from wake on,
-- spacing_seconds apart, or closer where that would take them past latest.
-- A webhook at its in-flight
-- cap then stops its backlog being fetched, rather than each job of it being
-- fetched only to be snoozed. Jobs another process holds are skipped.
CREATE FUNCTION webhooks.park_deliveries(webhook_id text, wake timestamptz, spacing_seconds float8, latest timestamptz, max_jobs int)
RETURNS int
LANGUAGE sql VOLATILE AS $$
    WITH parked AS (
        SELECT l.id, wake + (row_number() OVER (ORDER BY l.id) - 1)
            * make_interval(secs => least(spacing_seconds, extract(epoch FROM latest - wake)::float8 / count(*) OVER ())) AS wake_at
        FROM (
            SELECT r.id FROM river_job r
            WHERE r.state = 'available' AND r.queue = 'webhook_deliver' AND r.kind = 'webhook_deliver'
              AND r.args ->> 'webhookId' = park_deliveries.webhook_id
            ORDER BY r.id
            LIMIT max_jobs
            FOR UPDATE SKIP LOCKED
        ) l
    ), moved AS (
        UPDATE river_job j SET state = 'scheduled', scheduled_at = p.wake_at
        FROM parked p
        WHERE j.id = p.id
        RETURNING 1
    )
    SELECT count(*)::int FROM moved;
$$;

-- endpoint_health reads the last success from the attempts themselves: the
-- webhook's own last_success_at is written at most once a minute.
CREATE OR REPLACE VIEW webhooks.endpoint_health AS
SELECT w.id AS webhook_id, w.name, webhooks.endpoint(w.url) AS endpoint, w.workspace_id, w.enabled, w.disabled_reason, w.disabled_at,
    h.attempts_1h, h.success_rate_1h, d.attempts_24h, d.success_rate_24h,
    s.last_success_at,
    (SELECT max(a.started_at) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded) AS last_failure_at,
    (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded
       AND a.started_at > coalesce(s.last_success_at, '-infinity')) AS failures_since_success,
    w.failing_since
FROM webhooks.webhooks w
CROSS JOIN LATERAL (
    SELECT max(a.started_at) AS last_success_at FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.succeeded
) s
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_1h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_1h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 hour'
) h
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_24h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_24h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 day'
) d;
