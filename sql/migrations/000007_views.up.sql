-- What admins query: views over our own tables (River forgets finished jobs),
-- and a read-only role that reaches these views and nothing else.

-- River's rows for a message, found by the message id in the job's args.
CREATE INDEX IF NOT EXISTS river_job_webhooks_message_id_idx ON river_job ((args ->> 'messageId')) WHERE kind = 'webhook_deliver';

-- endpoint shows where a URL leads, scheme and host, and not its path or
-- query, where receivers often keep a token.
CREATE FUNCTION webhooks.endpoint(url text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+');

-- delivery_log: one row per attempt.
CREATE VIEW webhooks.delivery_log AS
SELECT a.id AS attempt_id, a.started_at, a.message_id, a.event_id, a.event_type, a.attempt,
    a.webhook_id, w.name AS webhook_name, webhooks.endpoint(a.url) AS endpoint, a.workspace_id,
    CASE WHEN a.succeeded THEN 'succeeded' ELSE 'failed' END AS outcome,
    a.status_code, round(a.duration_ms::numeric, 1) AS latency_ms, a.error_class, a.error_message,
    a.response_excerpt, a.river_job_id
FROM webhooks.delivery_attempts a
LEFT JOIN webhooks.webhooks w ON w.id = a.webhook_id;

-- message_status: one row per message, with River's next attempt while it
-- has one.
CREATE VIEW webhooks.message_status AS
SELECT m.id AS message_id, o.event_id, m.event_type, m.webhook_id, w.name AS webhook_name, m.workspace_id,
    m.state, (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.message_id = m.id) AS attempts,
    m.last_status_code, m.last_error, m.created_at, m.updated_at,
    (SELECT j.scheduled_at FROM river_job j
     WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = m.id AND j.state IN ('available', 'scheduled', 'retryable')
     ORDER BY j.id DESC LIMIT 1) AS next_attempt_at
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id;

-- endpoint_health: one row per webhook.
CREATE VIEW webhooks.endpoint_health AS
SELECT w.id AS webhook_id, w.name, webhooks.endpoint(w.url) AS endpoint, w.workspace_id, w.enabled, w.disabled_reason, w.disabled_at,
    h.attempts_1h, h.success_rate_1h, d.attempts_24h, d.success_rate_24h,
    w.last_success_at,
    (SELECT max(a.started_at) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded) AS last_failure_at,
    (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded
       AND a.started_at > coalesce(w.last_success_at, '-infinity')) AS failures_since_success,
    w.failing_since
FROM webhooks.webhooks w
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_1h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_1h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 hour'
) h
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_24h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_24h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 day'
) d;

-- outbox_backlog: events not yet expanded, and how old the oldest is.
CREATE VIEW webhooks.outbox_backlog AS
SELECT count(*) AS unexpanded, min(captured_at) AS oldest_captured_at, now() - min(captured_at) AS oldest_age
FROM webhooks.outbox
WHERE expanded_at IS NULL;

-- webhooks_reader may read the views and nothing else: no secrets, no API
-- key hashes, no payloads, no URL paths.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'webhooks_reader') THEN
        CREATE ROLE webhooks_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA webhooks TO webhooks_reader;
GRANT SELECT ON webhooks.delivery_log, webhooks.message_status, webhooks.endpoint_health, webhooks.outbox_backlog TO webhooks_reader;
