-- name: ReplayCandidates :many
-- ReplayCandidates pages through the events of a time range that a webhook
-- takes today, in outbox id order after after_id: its subscription (or
-- event_types, a part of it) and its creator's role now, as OutboxMatch
-- chooses at expansion, but not its age (events from before the webhook
-- count). Tests' example events are not replayed. An event's payload keys
-- are the table's until it is rendered, camelCase after.
SELECT o.id, o.captured_at, o.event_type, o.resource_type, (o.resource_type || '/' || o.resource_id)::text AS resource,
    o.payload, o.previous_attributes
FROM webhooks.outbox o
JOIN webhooks.webhooks w ON w.id = @webhook_id::text AND w.workspace_id = o.workspace_id
WHERE o.captured_at >= @since AND o.captured_at < @until AND o.id > @after_id
  AND o.expanded_at IS NOT NULL AND o.resource_id NOT LIKE 'test\_%'
  AND (o.event_type = ANY (w.event_types) OR o.resource_type || '.*' = ANY (w.event_types)
      OR ('*' = ANY (w.event_types) AND o.resource_type NOT IN ('webhook', 'message')))
  AND (sqlc.narg(event_types)::text[] IS NULL OR o.event_type = ANY (sqlc.narg(event_types)::text[]))
  AND CASE WHEN o.resource_type IN ('webhook', 'message')
      THEN webhooks.is_admin(w.created_by, o.workspace_id)
          AND (o.event_type = 'webhook.recovered'
              OR w.id <> CASE WHEN o.rendered THEN o.payload ->> 'webhookId' ELSE o.payload ->> 'webhook_id' END)
      WHEN o.rendered
      THEN webhooks.can_read(w.created_by, o.workspace_id, o.payload ->> 'createdBy', o.payload ->> 'visibility', o.payload ->> 'teamId')
      ELSE webhooks.can_read(w.created_by, o.workspace_id, o.payload ->> 'created_by', o.payload ->> 'visibility', o.payload ->> 'team_id')
  END
ORDER BY o.id
LIMIT @max;

-- name: OldestKept :one
-- OldestKept is the start of the oldest partition of the logs: events
-- captured before it are gone with the retention.
SELECT coalesce(min(from_at), now())::timestamptz FROM webhooks.partitions;

-- name: ReplayInsert :one
INSERT INTO webhooks.replays (webhook_id, workspace_id, created_by, since, until, event_types, total)
VALUES (@webhook_id, @workspace_id, @created_by, @since, @until, sqlc.narg(event_types), @total)
RETURNING *;

-- name: ReplayGet :one
-- ReplayGet is a replay with its progress, counted from its messages (an
-- index of replays' messages alone, in the range's partitions).
SELECT sqlc.embed(r), c.sent, c.failed, c.cancelled, c.pending
FROM webhooks.replays r
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE m.state = 'succeeded') AS sent,
        count(*) FILTER (WHERE m.state = 'failed') AS failed,
        count(*) FILTER (WHERE m.state = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE m.state IN ('pending', 'retrying')) AS pending
    FROM webhooks.messages m
    WHERE m.replay_id = r.id AND m.captured_at >= r.since AND m.captured_at < r.until
) c
WHERE r.id = @id AND (sqlc.narg(workspace_id)::text IS NULL OR r.workspace_id = sqlc.narg(workspace_id));

-- name: ReplayLatest :many
-- ReplayLatest lists a webhook's replays, newest first, with their progress
-- as ReplayGet counts it.
SELECT sqlc.embed(r), c.sent, c.failed, c.cancelled, c.pending
FROM webhooks.replays r
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE m.state = 'succeeded') AS sent,
        count(*) FILTER (WHERE m.state = 'failed') AS failed,
        count(*) FILTER (WHERE m.state = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE m.state IN ('pending', 'retrying')) AS pending
    FROM webhooks.messages m
    WHERE m.replay_id = r.id AND m.captured_at >= r.since AND m.captured_at < r.until
) c
WHERE r.webhook_id = @webhook_id
ORDER BY r.created_at DESC, r.id DESC
LIMIT @max;

-- name: ReplayAdvance :exec
UPDATE webhooks.replays SET queued = queued + @queued, after_id = @after_id, updated_at = now()
WHERE id = @id;

-- name: ReplayEnd :one
-- ReplayEnd ends a running replay: finished, or cancelled; a replay that
-- is not running is left as it is (no row).
UPDATE webhooks.replays SET state = @state, finished_at = now(), updated_at = now()
WHERE id = @id AND state = 'running'
RETURNING *;

-- name: MessageInsertReplay :exec
INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, captured_at, replay_id)
SELECT unnest(@ids::text[]), unnest(@outbox_ids::bigint[]), @webhook_id, @workspace_id,
    unnest(@event_types::text[]), unnest(@captured_ats::timestamptz[]), @replay_id;

-- name: ReplayLockRunning :one
-- ReplayLockRunning locks a replay for the window its job queues, and says
-- whether it still runs: a cancel waits for the window, or the window sees
-- the cancel.
SELECT (state = 'running')::boolean AS running FROM webhooks.replays WHERE id = @id FOR UPDATE;
