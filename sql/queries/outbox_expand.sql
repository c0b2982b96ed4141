-- name: OutboxClaim :many
-- OutboxClaim locks a batch of captured events, in id order, skipping those
-- another expander holds.
SELECT id, resource_type, payload, previous_attributes FROM webhooks.capture_queue
ORDER BY id
LIMIT @max
FOR UPDATE SKIP LOCKED;

-- name: OutboxMatch :many
-- OutboxMatch pairs each claimed event with every enabled webhook of its
-- workspace that subscribes to its type and whose creator may read the row
-- now. A webhook gets the events captured after it was made, not a backlog
-- older than itself. Events about webhooks and messages go to webhooks that
-- name them ("webhook.*" or the type; "*" is the app's resources) and whose
-- creators are owners or admins, and never report a webhook's failure
-- through that webhook. The webhook's filters come along for the expander
-- to apply to the payload, and whether it is ordered, with the resource it
-- orders by.
SELECT o.id AS outbox_id, o.captured_at, w.id AS webhook_id, o.workspace_id, o.event_type,
    w.filter, w.changed_columns, w.ordered, (o.resource_type || '/' || o.resource_id)::text AS resource
FROM webhooks.capture_queue o
JOIN webhooks.webhooks w ON w.workspace_id = o.workspace_id AND w.enabled AND w.created_at <= o.captured_at
    AND (o.event_type = ANY (w.event_types) OR o.resource_type || '.*' = ANY (w.event_types)
        OR ('*' = ANY (w.event_types) AND o.resource_type NOT IN ('webhook', 'message')))
WHERE o.id = ANY (@ids::bigint[])
  AND CASE WHEN o.resource_type IN ('webhook', 'message')
      THEN webhooks.is_admin(w.created_by, o.workspace_id)
          AND (o.event_type = 'webhook.recovered' OR w.id <> o.payload ->> 'webhook_id')
      ELSE webhooks.can_read(w.created_by, o.workspace_id, o.payload ->> 'created_by', o.payload ->> 'visibility', o.payload ->> 'team_id')
  END
ORDER BY o.id, w.id;

-- name: MessageInsertMany :exec
INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, captured_at)
SELECT unnest(@ids::text[]), unnest(@outbox_ids::bigint[]), unnest(@webhook_ids::text[]),
    unnest(@workspace_ids::text[]), unnest(@event_types::text[]), unnest(@captured_ats::timestamptz[]);

-- name: OutboxExpand :execrows
-- OutboxExpand moves the claimed events from the queue into the outbox,
-- written once: stamped with their event ids and, for those that have
-- messages, with what receivers get, rendered by the expander (rendered is
-- a JSON array of {id, payload, previous}). The others keep the image as
-- captured.
WITH moved AS (
    DELETE FROM webhooks.capture_queue q WHERE q.id = ANY (@ids::bigint[])
    RETURNING q.*
)
INSERT INTO webhooks.outbox (id, event_id, event_type, resource_type, resource_id, workspace_id, actor, payload,
    previous_attributes, rendered, captured_at, expanded_at)
SELECT m.id, webhooks.gen_id(), m.event_type, m.resource_type, m.resource_id, m.workspace_id, m.actor,
    coalesce(r.payload, m.payload), CASE WHEN r.id IS NULL THEN m.previous_attributes ELSE r.previous END,
    r.id IS NOT NULL, m.captured_at, now()
FROM moved m
LEFT JOIN json_to_recordset(@rendered::json) AS r (id bigint, payload json, previous json) ON r.id = m.id
ORDER BY m.id;

-- name: OutboxRequeue :execrows
-- OutboxRequeue moves events found unexpanded in the outbox into the queue:
-- a capture that began before migration 000014 wrote there.
WITH stranded AS (
    DELETE FROM webhooks.outbox WHERE expanded_at IS NULL
    RETURNING id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at
)
INSERT INTO webhooks.capture_queue (id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at)
SELECT id, event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes, captured_at FROM stranded;

-- name: TrackedTimestampColumns :many
-- TrackedTimestampColumns lists the timestamp columns of tracked tables,
-- which receivers get in RFC 3339 UTC with milliseconds.
SELECT t.resource_type, a.attname::text AS column_name
FROM webhooks.tracked_tables t
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.table_name AND a.attnum > 0 AND NOT a.attisdropped
WHERE a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype);
