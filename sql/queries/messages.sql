-- name: MessageSetState :exec
-- MessageSetState records where a message stands when a delivery ends it
-- without an attempt, or after its attempt was recorded; attempts counts
-- the recorded attempts alone. captured_at names the message's partition;
-- null (a job of a release before partitions) looks in every one.
UPDATE webhooks.messages
SET state = @state, open_state = webhooks.open_state(@state), last_status_code = sqlc.narg(last_status_code),
    last_error = sqlc.narg(last_error), updated_at = now()
WHERE id = @id AND (sqlc.narg(captured_at)::timestamptz IS NULL OR captured_at = sqlc.narg(captured_at));

-- name: MessageGet :one
SELECT sqlc.embed(m), o.event_id
FROM webhooks.messages m JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
WHERE m.id = @id AND m.workspace_id = @workspace_id;

-- name: MessageList :many
-- MessageList pages through a webhook's messages, newest first, before the
-- cursor (created_at, id), with optional filters. The event id is read
-- for the page's rows alone: joined, the planner hashed every message of
-- the webhook with every event to find the newest 21. A filter on a state
-- that is not pending or succeeded is on open_state, whose index holds
-- those messages alone; pending is looked for from pending_from on
-- (MessagePendingFrom).
SELECT sqlc.embed(m),
    (SELECT o.event_id FROM webhooks.outbox o WHERE o.id = m.outbox_id AND o.captured_at = m.captured_at) AS event_id
FROM webhooks.messages m
WHERE m.webhook_id = @webhook_id
  AND (sqlc.narg(state)::text IS NULL OR m.state = sqlc.narg(state))
  AND (sqlc.narg(open_state)::text IS NULL OR m.open_state = sqlc.narg(open_state))
  AND (sqlc.narg(pending_from)::timestamptz IS NULL
       OR (m.captured_at >= sqlc.narg(pending_from) AND m.created_at >= sqlc.narg(pending_from)))
  AND (sqlc.narg(event_type)::text IS NULL OR m.event_type = sqlc.narg(event_type))
  AND (sqlc.narg(since)::timestamptz IS NULL OR m.created_at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR m.created_at < sqlc.narg(until))
  AND (sqlc.narg(before_created_at)::timestamptz IS NULL OR (m.created_at, m.id) < (sqlc.narg(before_created_at), sqlc.narg(before_id)::text))
ORDER BY m.created_at DESC, m.id DESC
LIMIT @max;

-- name: MessagePendingFrom :one
-- MessagePendingFrom says whether a webhook has messages pending and when
-- the oldest was captured (webhooks.message_pending_from).
SELECT (p.f IS NOT NULL)::boolean AS pending, coalesce(p.f, now())::timestamptz AS pending_from
FROM (SELECT webhooks.message_pending_from(@webhook_id::text) AS f) p;

-- name: MessageResetForRetry :one
-- MessageResetForRetry makes a finished message pending again, for a retry;
-- one under way is left alone (no row).
UPDATE webhooks.messages SET state = 'pending', open_state = webhooks.open_state('pending'), updated_at = now()
WHERE id = @id AND state IN ('succeeded', 'failed', 'cancelled')
RETURNING id, webhook_id, event_type, captured_at;

-- name: MessageResetFailedSince :many
-- MessageResetFailedSince makes up to max failed messages of a webhook,
-- made since a time, pending again, for a recover.
UPDATE webhooks.messages SET state = 'pending', open_state = webhooks.open_state('pending'), updated_at = now()
WHERE id IN (
    SELECT m.id FROM webhooks.messages m
    WHERE m.webhook_id = @webhook_id AND m.open_state = 'failed' AND m.created_at >= @since
    ORDER BY m.created_at
    LIMIT @max
    FOR UPDATE SKIP LOCKED
)
RETURNING id, webhook_id, event_type, captured_at;

-- name: DeliveryAttemptList :many
SELECT * FROM webhooks.delivery_attempts WHERE message_id = @message_id AND captured_at = @captured_at ORDER BY attempt, id;

-- name: OutboxInsertTest :one
-- OutboxInsertTest records an example event for one webhook's test: expanded
-- already, so that no other webhook gets it.
INSERT INTO webhooks.outbox (event_id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes,
    rendered, expanded_at)
VALUES (webhooks.gen_id(), @event_type, @resource_type, @resource_id, @workspace_id, @actor,
    webhooks.payload(@resource_type, @payload), webhooks.payload(@resource_type, sqlc.narg(previous_attributes)::json), true, now())
RETURNING id, captured_at;

-- name: MessageInsert :exec
INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, captured_at)
VALUES (@id, @outbox_id, @webhook_id, @workspace_id, @event_type, @captured_at);

-- name: MessageNextJob :one
-- MessageNextJob is a message's delivery job still to run, and when it
-- runs: the newest, read through river_job_webhooks_message_id_idx.
SELECT j.id, j.scheduled_at FROM river_job j
WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = @message_id::text
  AND j.state IN ('available', 'scheduled', 'retryable')
ORDER BY j.id DESC
LIMIT 1;

-- name: MessageRequestRetry :exec
-- MessageRequestRetry notes that a retry was asked for now, in the
-- transaction that brings the message's job forward.
UPDATE webhooks.messages SET retry_requested_at = now() WHERE id = @id AND captured_at = @captured_at;

-- name: MessageLockState :one
-- MessageLockState reads a message's state and locks it, for a change
-- made from what it reads (a skip).
SELECT state FROM webhooks.messages WHERE id = @id AND captured_at = @captured_at FOR UPDATE;

-- name: MessageLiveJobs :many
-- MessageLiveJobs are a message's delivery jobs not finalised: to run, or
-- running (read through river_job_webhooks_message_id_idx, and among the
-- few running).
SELECT j.id, j.state::text AS state FROM river_job j
WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = @message_id::text
  AND j.state IN ('available', 'scheduled', 'retryable')
UNION ALL
SELECT j.id, j.state::text AS state FROM river_job j
WHERE j.state IN ('running', 'pending') AND j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = @message_id::text;
