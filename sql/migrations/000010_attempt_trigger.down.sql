DROP VIEW webhooks.delivery_log;
CREATE VIEW webhooks.delivery_log AS
SELECT a.id AS attempt_id, a.started_at, a.message_id, a.event_id, a.event_type, a.attempt,
    a.webhook_id, w.name AS webhook_name, webhooks.endpoint(a.url) AS endpoint, a.workspace_id,
    CASE WHEN a.succeeded THEN 'succeeded' ELSE 'failed' END AS outcome,
    a.status_code, round(a.duration_ms::numeric, 1) AS latency_ms, a.error_class, a.error_message,
    a.response_excerpt, a.river_job_id
FROM webhooks.delivery_attempts a
LEFT JOIN webhooks.webhooks w ON w.id = a.webhook_id;
GRANT SELECT ON webhooks.delivery_log TO webhooks_reader;

CREATE OR REPLACE FUNCTION webhooks.record_attempts(records json, disable_after_seconds float8)
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

ALTER TABLE webhooks.delivery_attempts DROP COLUMN triggered_by;
