-- name: OutboxClaim :many
-- OutboxClaim locks a batch of unexpanded events, skipping those another
-- expander holds.
SELECT id, captured_at, resource_type, payload, previous_attributes FROM webhooks.outbox
WHERE expanded_at IS NULL
ORDER BY id
LIMIT @max
FOR UPDATE SKIP LOCKED;

-- name: OutboxMatch :many
-- OutboxMatch pairs each event with every enabled webhook of its workspace
-- that subscribes to its type and whose creator may read the row now. A
-- webhook gets the events captured after it was made, not a backlog older
-- than itself.
SELECT o.id AS outbox_id, o.captured_at, w.id AS webhook_id, o.workspace_id, o.event_type
FROM webhooks.outbox o
JOIN webhooks.webhooks w ON w.workspace_id = o.workspace_id AND w.enabled AND w.created_at <= o.captured_at
    AND (o.event_type = ANY (w.event_types) OR '*' = ANY (w.event_types) OR o.resource_type || '.*' = ANY (w.event_types))
WHERE o.id = ANY (@ids::bigint[])
  AND o.captured_at >= @captured_from AND o.captured_at <= @captured_to
  AND webhooks.can_read(w.created_by, o.workspace_id, o.payload ->> 'created_by', o.payload ->> 'visibility', o.payload ->> 'team_id')
ORDER BY o.id, w.id;

-- name: MessageInsertMany :exec
INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, captured_at)
SELECT unnest(@ids::text[]), unnest(@outbox_ids::bigint[]), unnest(@webhook_ids::text[]),
    unnest(@workspace_ids::text[]), unnest(@event_types::text[]), unnest(@captured_ats::timestamptz[]);

-- name: OutboxMarkExpanded :execrows
-- OutboxMarkExpanded stamps the claimed events with their event ids and
-- replaces the payload of those that have messages with what receivers get,
-- rendered by the expander: rendered is a JSON array of {id, payload,
-- previous}. The others keep the image as captured.
UPDATE webhooks.outbox o
SET expanded_at = now(), event_id = webhooks.gen_id(),
    payload = coalesce(r.payload, o.payload),
    previous_attributes = CASE WHEN r.id IS NULL THEN o.previous_attributes ELSE r.previous END,
    rendered = r.id IS NOT NULL
FROM unnest(@ids::bigint[]) AS c (id)
LEFT JOIN json_to_recordset(@rendered::json) AS r (id bigint, payload json, previous json) ON r.id = c.id
WHERE o.id = c.id AND o.expanded_at IS NULL
  AND o.captured_at >= @captured_from AND o.captured_at <= @captured_to;

-- name: TrackedTimestampColumns :many
-- TrackedTimestampColumns lists the timestamp columns of tracked tables,
-- which receivers get in RFC 3339 UTC with milliseconds.
SELECT t.resource_type, a.attname::text AS column_name
FROM webhooks.tracked_tables t
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.table_name AND a.attnum > 0 AND NOT a.attisdropped
WHERE a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype);
