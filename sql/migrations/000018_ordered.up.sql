-- Ordered webhooks: deliveries about one resource (its type and id) go one
-- at a time, in the order the app committed its changes. Row locks make the
-- app's writers of one row take their turns, so the outbox ids of one
-- resource's events are in commit order.
--
-- webhook_event_payload as in 000017, its body a string: a body in the SQL
-- standard's form depends on the webhooks row type, and PostgreSQL then
-- refuses to add a column to the table.
CREATE OR REPLACE FUNCTION webhooks.webhook_event_payload(w webhooks.webhooks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('webhook_id', w.id, 'name', w.name, 'url', w.url, 'created_by', w.created_by);
$$;
ALTER TABLE webhooks.webhooks ADD COLUMN ordered boolean NOT NULL DEFAULT false;

-- ordered_queue holds the messages of ordered webhooks not yet finished,
-- per resource. A message enters it at expansion, unreleased (it has no
-- delivery job, and waits); the first of its resource is released (its job
-- is made) when none of the resource is released. It leaves when it
-- succeeds, is cancelled or skipped: then the next is released. A released
-- message that failed for good stays, and its resource waits behind it until
-- it is retried or skipped. Unordered webhooks put nothing here.
--
-- "First" is by outbox id (commit order), the app's changes before what was
-- asked for again (a retry, a recover, a replay: trigger is set), which
-- goes after the changes waiting, in commit order among itself. A replay
-- may queue a second message of an event: the key is the message.
--
-- Unpartitioned: it holds a backlog, not history.
CREATE TABLE webhooks.ordered_queue (
    webhook_id text NOT NULL REFERENCES webhooks.webhooks (id) ON DELETE CASCADE,
    -- resource is its type and id: "investment/<id>".
    resource text NOT NULL,
    outbox_id bigint NOT NULL,
    message_id text NOT NULL,
    captured_at timestamptz NOT NULL,
    event_type text NOT NULL,
    -- trigger is what queued it, for its delivery's first attempt
    -- (triggered_by): null for expansion's (the schedule's), manual_retry,
    -- recover or replay.
    trigger text,
    released boolean NOT NULL DEFAULT false,
    PRIMARY KEY (message_id)
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
-- A resource's messages in their order.
CREATE INDEX ordered_queue_resource_idx ON webhooks.ordered_queue (webhook_id, resource, (trigger IS NOT NULL), outbox_id, message_id);
-- The released messages, which the sweep checks are still under way.
CREATE INDEX ordered_queue_released_idx ON webhooks.ordered_queue (webhook_id, resource) WHERE released;

-- expired_partitions as in 000014, with the messages waiting in the ordered
-- queue: they have no delivery job yet, and hold their slice as a pending
-- message does.
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
        + (SELECT count(*) FROM webhooks.ordered_queue q
           WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at AND NOT q.released)
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;

-- message_pending_from as in 000014, with the waiting messages of ordered
-- webhooks, which are pending but have no job yet.
CREATE OR REPLACE FUNCTION webhooks.message_pending_from(webhook_id text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT least(
        (SELECT min((j.args ->> 'capturedAt')::timestamptz)
         FROM river_job j
         WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
           AND j.args ->> 'webhookId' = message_pending_from.webhook_id),
        (SELECT min(q.captured_at) FROM webhooks.ordered_queue q
         WHERE q.webhook_id = message_pending_from.webhook_id AND NOT q.released));
$$;
