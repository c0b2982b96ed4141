-- name: OutboxGetByID :one
-- OutboxGetByID returns a captured event with its payload and previous
-- attributes as a receiver gets them.
SELECT id, event_id, event_type, resource_type, resource_id, workspace_id,
    actor, captured_at, expanded_at,
    (CASE WHEN rendered THEN payload ELSE webhooks.payload(resource_type, payload) END)::jsonb AS payload,
    (CASE WHEN rendered THEN previous_attributes ELSE webhooks.payload(resource_type, previous_attributes) END)::jsonb AS previous_attributes
FROM webhooks.outbox
WHERE id = @id;
