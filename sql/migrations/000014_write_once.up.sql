-- Rows of the logs written once. The outbox took two versions of every
-- event (captured, then stamped and rendered by expansion) and messages two
-- of every message, each new version entering every index again (the state
-- index kept the update from staying on its page): about 2 KB of logs per
-- delivery. Now capture writes into a small queue that expansion drains, so
-- an event enters the partitioned outbox once, expanded and rendered, and a
-- message's first success is an update in place that touches no index.

-- capture_queue holds captured changes until expansion moves them into the
-- outbox. It stays as small as the backlog: each row is inserted by capture
-- and deleted by expansion, so it is vacuumed at each hundredth of change,
-- like River's table. Its ids are the outbox's.
CREATE TABLE webhooks.capture_queue (
    id bigint NOT NULL DEFAULT nextval('webhooks.outbox_id_seq') PRIMARY KEY,
    event_type text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    workspace_id text NOT NULL,
    actor text,
    payload json NOT NULL,
    previous_attributes json,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);

-- Captures wait for this migration rather than write into the outbox behind
-- it; one that began before it may still have, and the webhooks_retention
-- job, at each run and at start, requeues what it finds there
-- (OutboxRequeue).
LOCK TABLE webhooks.outbox IN EXCLUSIVE MODE;

-- capture as in 000002, writing into capture_queue.
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
        INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_new t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' AND v_fast THEN
        INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.deleted', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_old t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'INSERT' THEN
        -- Materialised so that each image is built once, not once per column read.
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_new t)
        INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, r.j ->> v_key, r.j ->> 'workspace_id', v_actor, r.j::json
        FROM r;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' THEN
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_old t)
        INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
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
            INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes)
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
            INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
            SELECT v_type || '.deleted', v_type, o.j ->> v_key, o.j ->> 'workspace_id', v_actor, o.j::json
            FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.j ->> v_key = o.j ->> v_key)
            RETURNING 1
        ), created AS (
            INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, actor, payload)
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

-- Events not yet expanded move to the queue, as captured.
WITH moved AS (
    DELETE FROM webhooks.outbox WHERE expanded_at IS NULL
    RETURNING id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at
)
INSERT INTO webhooks.capture_queue (id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at)
SELECT id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at FROM moved;

CREATE OR REPLACE VIEW webhooks.outbox_backlog AS
SELECT count(*) AS unexpanded, min(captured_at) AS oldest_captured_at, now() - min(captured_at) AS oldest_age
FROM webhooks.capture_queue;

-- open_state is a message's state while it is one the state filter, recover
-- and retention look for beside pending (retrying, failed, cancelled, and an
-- earlier release's delivering); null for pending and succeeded. The state
-- index is on it, not on state: the common change, pending to succeeded,
-- then changes no indexed column and is a HOT update, on the row's page
-- (messages' fillfactor leaves the room). Pending messages are found through
-- their delivery jobs (message_pending_from).
ALTER TABLE webhooks.messages ADD COLUMN open_state text
    GENERATED ALWAYS AS (CASE WHEN state IN ('retrying', 'failed', 'cancelled', 'delivering') THEN state END) STORED;
DROP INDEX webhooks.messages_webhook_id_state_idx;
CREATE INDEX messages_webhook_id_open_state_idx ON webhooks.messages (webhook_id, open_state, created_at, id)
    WHERE open_state IS NOT NULL;

-- The unique (event, webhook) pair guarded against expanding an event twice.
-- Expansion now deletes the event from the queue in the transaction that
-- makes its messages, so a second expansion finds nothing to claim; the
-- index cost about 70 bytes a message and nothing read it.
ALTER TABLE webhooks.messages DROP CONSTRAINT messages_outbox_id_webhook_id_key;

-- A webhook's messages in the list's order, and of one type, without the
-- id. Messages made by one expansion share created_at, so without the id
-- their keys are equal and deduplicated into one entry (measured: 31 and 35
-- bytes a message, against 137 and 164 with the id; an index led by the
-- webhook takes inserts in its middle, where pages split in half). The list
-- sorts such a group by id as it reads it (an incremental sort), a batch
-- of rows at most.
DROP INDEX webhooks.messages_webhook_id_idx;
CREATE INDEX messages_webhook_id_idx ON webhooks.messages (webhook_id, created_at);
DROP INDEX webhooks.messages_webhook_id_event_type_idx;
CREATE INDEX messages_webhook_id_event_type_idx ON webhooks.messages (webhook_id, event_type, created_at);

-- message_status as in 000013, with open_state last: filtering on it
-- (open_state IN ('retrying', 'failed')) reads the index, where state reads
-- every message kept.
CREATE OR REPLACE VIEW webhooks.message_status AS
SELECT m.id AS message_id, o.event_id, m.event_type, m.webhook_id, w.name AS webhook_name, m.workspace_id,
    m.state, m.attempts::bigint AS attempts,
    m.last_status_code, m.last_error, m.created_at, m.updated_at,
    (SELECT j.scheduled_at FROM river_job j
     WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = m.id AND j.state IN ('available', 'scheduled', 'retryable')
     ORDER BY j.id DESC LIMIT 1) AS next_attempt_at,
    m.open_state
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id;

-- record_attempts' statement was planned again at every batch: its plan
-- for the batch's values prunes the partitions it does not touch, so it
-- always looked cheaper than the plan kept for any values, and planning it
-- took as long as running it (4.4 ms and 4.7 ms a batch, measured in the
-- soak). The plan kept prunes the partitions when it starts instead.
ALTER FUNCTION webhooks.record_attempts(json, float8) SET plan_cache_mode = force_generic_plan;

-- add_partition as in 000013, with the generated column. Messages keep a
-- fillfactor of 70, the room their HOT updates use: measured, 84 % of
-- updates were HOT at 70 and 64 % at 85, for about the same bytes.
CREATE OR REPLACE FUNCTION webhooks.add_partition(from_at timestamptz, to_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_table text;
    v_name text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['outbox', 'messages', 'delivery_attempts'] LOOP
        v_name := webhooks.partition_name(v_table, from_at);
        EXECUTE format('CREATE TABLE webhooks.%I (LIKE webhooks.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED) WITH (%s)',
            v_name, v_table, CASE v_table WHEN 'messages' THEN 'fillfactor = 70' ELSE 'fillfactor = 100' END);
        EXECUTE format('ALTER TABLE webhooks.%I ATTACH PARTITION webhooks.%I FOR VALUES FROM (%L) TO (%L)',
            v_table, v_name, from_at, to_at);
    END LOOP;
    INSERT INTO webhooks.partitions (from_at, to_at) VALUES (add_partition.from_at, add_partition.to_at);
END
$$;

-- message_pending_from is the captured_at of a webhook's oldest message
-- waiting for a delivery, read from its delivery jobs not yet finalised
-- (River's table: they are few, the backlog), or null when none waits. A
-- pending message is at least as new: the state filter's pending reads
-- from there on.
CREATE FUNCTION webhooks.message_pending_from(webhook_id text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT min((j.args ->> 'capturedAt')::timestamptz)
    FROM river_job j
    WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
      AND j.args ->> 'webhookId' = message_pending_from.webhook_id;
$$;

-- expired_partitions as in 000013: what holds a slice is its events not yet
-- expanded (in the queue) and its messages still to be delivered, pending or
-- retrying, counted by their delivery jobs not yet finalised (and an earlier
-- release's delivering, by the state index).
CREATE OR REPLACE FUNCTION webhooks.expired_partitions(before timestamptz)
RETURNS TABLE (from_at timestamptz, to_at timestamptz, unexpanded bigint, undelivered bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.from_at, p.to_at,
        (SELECT count(*) FROM webhooks.capture_queue q WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at),
        (SELECT count(*) FROM river_job j
         WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
           AND (j.args ->> 'capturedAt')::timestamptz >= p.from_at AND (j.args ->> 'capturedAt')::timestamptz < p.to_at)
        + (SELECT count(*) FROM webhooks.messages m
           WHERE m.captured_at >= p.from_at AND m.captured_at < p.to_at AND m.open_state = 'delivering')
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;
