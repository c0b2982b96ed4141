-- Back to the unpartitioned logs of 000012, with their data: the payload as
-- captured and, for rendered events, what receivers get beside it.
DROP VIEW webhooks.delivery_log;
DROP VIEW webhooks.message_status;
DROP VIEW webhooks.endpoint_health;
DROP VIEW webhooks.outbox_backlog;
DROP INDEX river_job_webhooks_available_idx;
ALTER TABLE river_job RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay);

ALTER TABLE webhooks.delivery_attempts RENAME TO delivery_attempts_partitioned;
ALTER TABLE webhooks.messages RENAME TO messages_partitioned;
ALTER TABLE webhooks.outbox RENAME TO outbox_partitioned;
ALTER INDEX webhooks.outbox_unexpanded_idx RENAME TO outbox_partitioned_unexpanded_idx;
ALTER INDEX webhooks.messages_webhook_id_idx RENAME TO messages_partitioned_webhook_id_idx;
ALTER INDEX webhooks.messages_webhook_id_state_idx RENAME TO messages_partitioned_webhook_id_state_idx;
ALTER INDEX webhooks.delivery_attempts_message_id_idx RENAME TO delivery_attempts_partitioned_message_id_idx;
ALTER TABLE webhooks.messages_partitioned RENAME CONSTRAINT messages_outbox_id_webhook_id_key TO messages_partitioned_outbox_id_webhook_id_key;
ALTER TABLE webhooks.outbox_partitioned RENAME CONSTRAINT outbox_pkey TO outbox_partitioned_pkey;
ALTER TABLE webhooks.messages_partitioned RENAME CONSTRAINT messages_pkey TO messages_partitioned_pkey;

CREATE TABLE webhooks.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text COLLATE "C",
    event_type text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    workspace_id text NOT NULL,
    actor text,
    payload json NOT NULL,
    previous_attributes jsonb,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expanded_at timestamptz,
    receiver_payload json,
    receiver_previous_attributes json
);
CREATE UNIQUE INDEX outbox_event_id_key ON webhooks.outbox (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX outbox_unexpanded_idx ON webhooks.outbox (id) WHERE expanded_at IS NULL;

-- A rendered event's image as captured is gone: the rendered one stands in
-- for it (webhooks.payload leaves camelCase keys and rendered timestamps as
-- they are).
INSERT INTO webhooks.outbox (id, event_id, event_type, resource_type, resource_id, workspace_id, actor, payload,
    previous_attributes, captured_at, expanded_at, receiver_payload, receiver_previous_attributes)
OVERRIDING SYSTEM VALUE
SELECT o.id, o.event_id, o.event_type, o.resource_type, o.resource_id, o.workspace_id, o.actor, o.payload,
    o.previous_attributes::jsonb, o.captured_at, o.expanded_at,
    CASE WHEN o.rendered THEN o.payload END, CASE WHEN o.rendered THEN o.previous_attributes END
FROM webhooks.outbox_partitioned o;
SELECT setval(pg_get_serial_sequence('webhooks.outbox', 'id'), greatest(nextval('webhooks.outbox_id_seq'), 1), false);

CREATE TABLE webhooks.messages (
    id text PRIMARY KEY CHECK (id ~ '^msg_[0-9A-Za-z]{27}$'),
    outbox_id bigint NOT NULL REFERENCES webhooks.outbox (id) ON DELETE CASCADE,
    webhook_id text NOT NULL,
    workspace_id text NOT NULL,
    event_type text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivering', 'succeeded', 'retrying', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_outbox_id_webhook_id_key UNIQUE (outbox_id, webhook_id)
) WITH (fillfactor = 70);
CREATE INDEX messages_webhook_id_idx ON webhooks.messages (webhook_id, created_at);
INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, created_at, state, attempts,
    last_status_code, last_error, updated_at)
SELECT m.id, m.outbox_id, m.webhook_id, m.workspace_id, m.event_type, m.created_at, m.state, m.attempts,
    m.last_status_code, m.last_error, m.updated_at
FROM webhooks.messages_partitioned m;

CREATE TABLE webhooks.delivery_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL REFERENCES webhooks.messages (id) ON DELETE CASCADE,
    event_id text NOT NULL,
    webhook_id text NOT NULL,
    workspace_id text NOT NULL,
    event_type text NOT NULL,
    attempt integer NOT NULL,
    url text NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    succeeded boolean NOT NULL,
    status_code integer,
    error_class text,
    error_message text,
    response_excerpt text,
    river_job_id bigint,
    triggered_by text NOT NULL DEFAULT 'schedule',
    CONSTRAINT delivery_attempts_triggered_by_check
        CHECK (triggered_by IN ('schedule', 'manual_retry', 'recover', 'test'))
);
CREATE INDEX delivery_attempts_message_id_idx ON webhooks.delivery_attempts (message_id, attempt);
CREATE INDEX delivery_attempts_webhook_health_idx ON webhooks.delivery_attempts (webhook_id, started_at) INCLUDE (succeeded);
INSERT INTO webhooks.delivery_attempts (id, message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
    started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id, triggered_by)
OVERRIDING SYSTEM VALUE
SELECT a.id, a.message_id, a.event_id, a.webhook_id, a.workspace_id, a.event_type, a.attempt, a.url,
    a.started_at, a.duration_ms, a.succeeded, a.status_code, a.error_class, a.error_message, a.response_excerpt, a.river_job_id, a.triggered_by
FROM webhooks.delivery_attempts_partitioned a
WHERE EXISTS (SELECT 1 FROM webhooks.messages m WHERE m.id = a.message_id);
SELECT setval(pg_get_serial_sequence('webhooks.delivery_attempts', 'id'), greatest(nextval('webhooks.delivery_attempts_id_seq'), 1), false);

DROP TABLE webhooks.delivery_attempts_partitioned, webhooks.messages_partitioned, webhooks.outbox_partitioned;
DROP TABLE webhooks.partitions, webhooks.webhook_stats, webhooks.webhook_health;
DROP FUNCTION webhooks.make_partitions(timestamptz, interval);
DROP FUNCTION webhooks.add_partition(timestamptz, timestamptz);
DROP FUNCTION webhooks.expired_partitions(timestamptz);
DROP FUNCTION webhooks.partition_state(text, timestamptz);
DROP FUNCTION webhooks.partition_name(text, timestamptz);
DROP FUNCTION webhooks.stats_bucket(timestamptz);

-- record_attempts as in 000010.
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
            error_class text, error_message text, response_excerpt text, river_job_id bigint, state text, last_error text,
            triggered_by text)
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
        started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id, triggered_by)
    SELECT r.message_id, r.event_id, r.webhook_id, r.workspace_id, r.event_type,
        message.earlier + row_number() OVER (PARTITION BY r.message_id ORDER BY r.n),
        r.url, r.started_at, r.duration_ms, r.succeeded, r.status_code, r.error_class, r.error_message,
        r.response_excerpt, r.river_job_id,
        -- A worker of an earlier release sends none: its attempts are the
        -- schedule's, as they were before.
        coalesce(nullif(r.triggered_by, ''), 'schedule')
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

-- park_deliveries as in 000008.
CREATE OR REPLACE FUNCTION webhooks.park_deliveries(webhook_id text, wake timestamptz, spacing_seconds float8, latest timestamptz, max_jobs int)
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

-- The views as in 000007, 000008 and 000010.
CREATE VIEW webhooks.delivery_log AS
SELECT a.id AS attempt_id, a.started_at, a.message_id, a.event_id, a.event_type, a.attempt,
    a.webhook_id, w.name AS webhook_name, webhooks.endpoint(a.url) AS endpoint, a.workspace_id,
    CASE WHEN a.succeeded THEN 'succeeded' ELSE 'failed' END AS outcome,
    a.status_code, round(a.duration_ms::numeric, 1) AS latency_ms, a.error_class, a.error_message,
    a.response_excerpt, a.river_job_id, a.triggered_by
FROM webhooks.delivery_attempts a
LEFT JOIN webhooks.webhooks w ON w.id = a.webhook_id;

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

CREATE VIEW webhooks.endpoint_health AS
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

CREATE VIEW webhooks.outbox_backlog AS
SELECT count(*) AS unexpanded, min(captured_at) AS oldest_captured_at, now() - min(captured_at) AS oldest_age
FROM webhooks.outbox
WHERE expanded_at IS NULL;

GRANT SELECT ON webhooks.delivery_log, webhooks.message_status, webhooks.endpoint_health, webhooks.outbox_backlog TO webhooks_reader;
