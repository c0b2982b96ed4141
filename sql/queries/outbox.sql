-- name: OutboxGetByID :one
-- OutboxGetByID returns a captured event with its payload and previous
-- attributes as a receiver gets them.
SELECT id, event_id, event_type, resource_type, resource_id, workspace_id,
    actor, captured_at, expanded_at,
    webhooks.payload(resource_type, payload)::jsonb AS payload,
    webhooks.payload(resource_type, previous_attributes::json)::jsonb AS previous_attributes
FROM webhooks.outbox
WHERE id = @id;
