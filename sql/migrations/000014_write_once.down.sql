-- Back to 000013: captures write into the outbox again, events still in the
-- queue go back to it unexpanded, and the state index is on state again.

LOCK TABLE webhooks.capture_queue IN EXCLUSIVE MODE;

-- capture as in 000002.
CREATE OR REPLACE FUNCTION webhooks.capture() RETURNS trigger
LANGUAGE plpgsql
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    v_type text := TG_ARGV[0];
    v_key text := TG_ARGV[1];
    v_excluded text[] := TG_ARGV[2]::text[];
    v_ignored text[] := TG_ARGV[3]::text[];
    v_fast boolean := v_key = 'id' AND v_excluded = '{}';
    v_actor text := nullif(current_setting('webhooks.actor', true), '');
    v_captured bigint;
BEGIN
    IF TG_OP = 'INSERT' AND v_fast THEN
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_new t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' AND v_fast THEN
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.deleted', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_old t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'INSERT' THEN
        -- Materialised so that each image is built once, not once per column read.
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_new t)
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, r.j ->> v_key, r.j ->> 'workspace_id', v_actor, r.j::json
        FROM r;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' THEN
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_old t)
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.deleted', v_type, r.j ->> v_key, r.j ->> 'workspace_id', v_actor, r.j::json
        FROM r;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSE
        -- Old and new rows pair up on the key. An update that changes only
        -- ignored columns, or nothing at all, has no previous attributes and
        -- is no event. A row whose key changed pairs with nothing: its old
        -- key's resource is deleted and its new key's created. The payload
        -- keeps row_to_json's column order.
        WITH n AS MATERIALIZED (
            SELECT to_jsonb(t) - v_excluded AS j, t AS r FROM webhooks_new t
        ), o AS MATERIALIZED (
            SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_old t
        ), updated AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes)
            SELECT v_type || '.updated', v_type, n.j ->> v_key, n.j ->> 'workspace_id', v_actor,
                CASE WHEN v_excluded = '{}' THEN row_to_json(n.r) ELSE n.j::json END, changed.previous
            FROM n
            JOIN o ON o.j ->> v_key = n.j ->> v_key
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(e.key, e.value) AS previous
                FROM jsonb_each(o.j) e
                WHERE e.key <> ALL (v_ignored) AND e.value IS DISTINCT FROM n.j -> e.key
            ) changed
            WHERE changed.previous IS NOT NULL
            RETURNING 1
        ), deleted AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
            SELECT v_type || '.deleted', v_type, o.j ->> v_key, o.j ->> 'workspace_id', v_actor, o.j::json
            FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.j ->> v_key = o.j ->> v_key)
            RETURNING 1
        ), created AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
            SELECT v_type || '.created', v_type, n.j ->> v_key, n.j ->> 'workspace_id', v_actor,
                CASE WHEN v_excluded = '{}' THEN row_to_json(n.r) ELSE n.j::json END
            FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.j ->> v_key = n.j ->> v_key)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM deleted) + (SELECT count(*) FROM created)
        INTO v_captured;
    END IF;
    -- Identical notifications of one transaction are delivered once, at commit.
    IF v_captured > 0 THEN
        PERFORM pg_notify('webhooks_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

INSERT INTO webhooks.outbox (id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at)
SELECT id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at
FROM webhooks.capture_queue;

CREATE OR REPLACE VIEW webhooks.outbox_backlog AS
SELECT count(*) AS unexpanded, min(captured_at) AS oldest_captured_at, now() - min(captured_at) AS oldest_age
FROM webhooks.outbox
WHERE expanded_at IS NULL;

CREATE OR REPLACE FUNCTION webhooks.expired_partitions(before timestamptz)
RETURNS TABLE (from_at timestamptz, to_at timestamptz, unexpanded bigint, undelivered bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.from_at, p.to_at,
        (SELECT count(*) FROM webhooks.outbox o
         WHERE o.captured_at >= p.from_at AND o.captured_at < p.to_at AND o.expanded_at IS NULL),
        (SELECT count(*) FROM webhooks.messages m
         WHERE m.captured_at >= p.from_at AND m.captured_at < p.to_at AND m.state IN ('pending', 'retrying', 'delivering'))
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;

CREATE OR REPLACE FUNCTION webhooks.add_partition(from_at timestamptz, to_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_table text;
    v_name text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['outbox', 'messages', 'delivery_attempts'] LOOP
        v_name := webhooks.partition_name(v_table, from_at);
        EXECUTE format('CREATE TABLE webhooks.%I (LIKE webhooks.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (%s)',
            v_name, v_table, CASE v_table WHEN 'messages' THEN 'fillfactor = 70' ELSE 'fillfactor = 100' END);
        EXECUTE format('ALTER TABLE webhooks.%I ATTACH PARTITION webhooks.%I FOR VALUES FROM (%L) TO (%L)',
            v_table, v_name, from_at, to_at);
    END LOOP;
    INSERT INTO webhooks.partitions (from_at, to_at) VALUES (add_partition.from_at, add_partition.to_at);
END
$$;

DROP VIEW webhooks.message_status;
CREATE VIEW webhooks.message_status AS
SELECT m.id AS message_id, o.event_id, m.event_type, m.webhook_id, w.name AS webhook_name, m.workspace_id,
    m.state, m.attempts::bigint AS attempts,
    m.last_status_code, m.last_error, m.created_at, m.updated_at,
    (SELECT j.scheduled_at FROM river_job j
     WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = m.id AND j.state IN ('available', 'scheduled', 'retryable')
     ORDER BY j.id DESC LIMIT 1) AS next_attempt_at
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id;
GRANT SELECT ON webhooks.message_status TO webhooks_reader;

ALTER FUNCTION webhooks.record_attempts(json, float8) RESET plan_cache_mode;

DROP FUNCTION webhooks.message_pending_from(text);
DROP INDEX webhooks.messages_webhook_id_open_state_idx;
ALTER TABLE webhooks.messages DROP COLUMN open_state;
CREATE INDEX messages_webhook_id_state_idx ON webhooks.messages (webhook_id, state, created_at, id) WHERE state <> 'succeeded';

DROP INDEX webhooks.messages_webhook_id_idx;
CREATE INDEX messages_webhook_id_idx ON webhooks.messages (webhook_id, created_at, id);
DROP INDEX webhooks.messages_webhook_id_event_type_idx;
CREATE INDEX messages_webhook_id_event_type_idx ON webhooks.messages (webhook_id, event_type, created_at, id);
ALTER TABLE webhooks.messages ADD CONSTRAINT messages_outbox_id_webhook_id_key UNIQUE (outbox_id, webhook_id, captured_at);

DROP TABLE webhooks.capture_queue;
