-- name: WebhookInsert :one
INSERT INTO webhooks.webhooks (workspace_id, created_by, name, url, event_types, description, rate_limit_per_second,
    filter, changed_columns, ordered)
VALUES (@workspace_id, @created_by, @name, @url, @event_types, @description, sqlc.narg(rate_limit_per_second),
    sqlc.narg(filter), sqlc.narg(changed_columns), @ordered)
RETURNING *;

-- name: WebhookQuotaLock :exec
-- WebhookQuotaLock makes the creates of one workspace's webhooks wait for
-- each other until their transactions end, so that two at once cannot both
-- find room under the workspace's quota (WebhookCount after it sees the
-- other's commit). The two-key form keeps it apart from the project's
-- one-key locks.
SELECT pg_advisory_xact_lock(hashtext('webhooks.webhook_quota'), hashtext(@workspace_id::text));

-- name: WebhookCount :one
-- WebhookCount counts a workspace's webhooks (webhooks_workspace_id_idx).
SELECT count(*) FROM webhooks.webhooks WHERE workspace_id = @workspace_id;

-- name: WebhookGetByID :one
-- WebhookGetByID finds a webhook within a workspace; another workspace's is
-- not found.
SELECT * FROM webhooks.webhooks WHERE id = @id AND workspace_id = @workspace_id;

-- name: WebhookList :many
-- WebhookList pages through a workspace's webhooks, oldest first, after the
-- cursor (created_at, id); created_by narrows to one user's when given.
SELECT * FROM webhooks.webhooks
WHERE workspace_id = @workspace_id
  AND (sqlc.narg(created_by)::text IS NULL OR created_by = sqlc.narg(created_by))
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL OR (created_at, id) > (sqlc.narg(after_created_at), sqlc.narg(after_id)::text))
ORDER BY created_at, id
LIMIT @max;

-- name: WebhookUpdate :one
UPDATE webhooks.webhooks
SET name = @name, url = @url, event_types = @event_types, description = @description,
    rate_limit_per_second = sqlc.narg(rate_limit_per_second), filter = sqlc.narg(filter),
    changed_columns = sqlc.narg(changed_columns), ordered = @ordered, updated_at = now()
WHERE id = @id AND workspace_id = @workspace_id
RETURNING *;

-- name: WebhookSetEnabled :one
-- WebhookSetEnabled enables a webhook, or disables it with a reason.
-- Enabling starts its failure clock afresh, so that the next failure does
-- not disable it again at once.
UPDATE webhooks.webhooks
SET enabled = @enabled,
    failing_since = CASE WHEN @enabled::boolean THEN NULL ELSE failing_since END,
    disabled_reason = CASE WHEN @enabled::boolean THEN NULL ELSE sqlc.narg(disabled_reason)::text END,
    disabled_at = CASE WHEN @enabled::boolean THEN NULL ELSE coalesce(disabled_at, now()) END,
    updated_at = now()
WHERE id = @id AND workspace_id = @workspace_id
RETURNING *;

-- name: WebhookDelete :execrows
DELETE FROM webhooks.webhooks WHERE id = @id AND workspace_id = @workspace_id;

-- name: WebhookHealthList :many
-- WebhookHealthList sums up the last day of attempts of some webhooks, and
-- their last attempt, for lists, from the roll-ups (webhook_stats'
-- five-minute buckets that overlap the last day, and webhook_health): a few
-- hundred rows per webhook whatever its traffic. For a webhook failing now
-- it adds its last failed attempt's status and error, the newest entry of
-- an index.
SELECT w.id::text AS webhook_id, d.attempts_24h, d.succeeded_24h, h.last_attempt_at, h.last_failure_at,
    coalesce(h.failures_since_success, 0)::bigint AS failures_since_success, f.status_code AS last_failure_status, f.error_message AS last_failure_error
FROM unnest(@webhook_ids::text[]) AS w (id)
LEFT JOIN webhooks.webhook_health h ON h.webhook_id = w.id
CROSS JOIN LATERAL (
    SELECT coalesce(sum(s.attempts), 0)::bigint AS attempts_24h, coalesce(sum(s.succeeded), 0)::bigint AS succeeded_24h
    FROM webhooks.webhook_stats s WHERE s.webhook_id = w.id AND s.bucket > now() - interval '1 day 5 minutes'
) d
LEFT JOIN LATERAL (
    SELECT a.status_code, a.error_message FROM webhooks.delivery_attempts a
    WHERE a.webhook_id = w.id AND NOT a.succeeded AND h.failures_since_success > 0
    ORDER BY a.started_at DESC LIMIT 1
) f ON true;

-- name: WebhookHourlyStats :many
-- WebhookHourlyStats counts a webhook's attempts, and their successes, in
-- each of the last 24 hours (the current one included), from its
-- five-minute roll-ups: at most 288 rows read whatever its traffic.
SELECT h.hour::timestamptz AS hour, coalesce(sum(s.attempts), 0)::bigint AS attempts,
    coalesce(sum(s.succeeded), 0)::bigint AS succeeded
FROM generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') AS h (hour)
LEFT JOIN webhooks.webhook_stats s
    ON s.webhook_id = @webhook_id AND s.bucket >= h.hour AND s.bucket < h.hour + interval '1 hour'
GROUP BY h.hour
ORDER BY h.hour;

-- name: WebhookGet :one
-- WebhookGet finds a webhook by id alone, for the operator's commands.
SELECT * FROM webhooks.webhooks WHERE id = @id;
