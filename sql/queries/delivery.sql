-- name: MessageGetForDelivery :one
-- MessageGetForDelivery returns what a delivery needs: the event as a
-- receiver gets it, the webhook (null fields when it was deleted) and its
-- secrets.
SELECT m.id, m.webhook_id, o.event_id, o.event_type, o.workspace_id, o.captured_at,
    -- json, not jsonb: the table's column order reaches the receiver.
    webhooks.payload(o.resource_type, o.payload) AS payload,
    webhooks.payload(o.resource_type, o.previous_attributes::json) AS previous_attributes,
    (w.id IS NOT NULL)::boolean AS webhook_exists, coalesce(w.url, '')::text AS url,
    coalesce(w.enabled, false)::boolean AS enabled, w.disabled_reason, w.rate_limit_per_second,
    coalesce(s.secret, '')::text AS secret, s.previous_secret, s.previous_expires_at
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id
LEFT JOIN webhooks.signing_secrets s ON s.webhook_id = m.webhook_id
WHERE m.id = @id;

-- name: DeliveryRecord :one
-- DeliveryRecord writes all an attempt's outcome in one statement, so one
-- commit: the attempt (numbered on from the message's earlier ones, whichever
-- job made them), the message's state, the webhook's run of failures, and the
-- release of the in-flight slot. It returns whether the webhook has now been
-- failing without a success for longer than disable_after_seconds, and since
-- when.
WITH attempt AS (
    INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
        started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id)
    VALUES (@message_id, @event_id, @webhook_id, @workspace_id, @event_type,
        (SELECT count(*) + 1 FROM webhooks.delivery_attempts a WHERE a.message_id = @message_id), @url,
        @started_at, @duration_ms, @succeeded, sqlc.narg(status_code), sqlc.narg(error_class), sqlc.narg(error_message),
        sqlc.narg(response_excerpt), @river_job_id)
    RETURNING attempt
), message AS (
    UPDATE webhooks.messages
    SET state = @state, attempts = (SELECT attempt FROM attempt), last_status_code = sqlc.narg(status_code),
        last_error = sqlc.narg(last_error), updated_at = now()
    WHERE id = @message_id
), slot AS (
    DELETE FROM webhooks.inflight WHERE webhook_id = @webhook_id AND river_job_id = @river_job_id
), hook AS (
    UPDATE webhooks.webhooks
    SET failing_since = CASE WHEN @succeeded THEN NULL ELSE coalesce(failing_since, now()) END,
        last_success_at = CASE WHEN @succeeded THEN now() ELSE last_success_at END
    WHERE id = @webhook_id
    RETURNING failing_since
)
SELECT coalesce((SELECT failing_since FROM hook) < now() - make_interval(secs => @disable_after_seconds::float8), false)::boolean AS past_disable_after,
    coalesce((SELECT failing_since FROM hook), now())::timestamptz AS failing_since;

-- name: WebhookDisable :exec
-- WebhookDisable disables a webhook that is enabled, with the reason.
UPDATE webhooks.webhooks
SET enabled = false, disabled_reason = @reason, disabled_at = now(), updated_at = now()
WHERE id = @id AND enabled;

-- name: RateWindowTake :one
-- RateWindowTake counts a delivery in the webhook's current one-second
-- window and returns the count so far and the window's start.
INSERT INTO webhooks.rate_windows AS r (webhook_id, window_start, count)
VALUES (@webhook_id, date_trunc('second', clock_timestamp()), 1)
ON CONFLICT (webhook_id) DO UPDATE
SET count = CASE WHEN r.window_start = excluded.window_start THEN r.count + 1 ELSE 1 END,
    window_start = excluded.window_start
RETURNING count, window_start;

-- name: InflightLock :exec
-- InflightLock serialises InflightTake per webhook until the transaction
-- ends. It must be a statement of its own: the count that follows needs a
-- snapshot taken after the lock, or it misses slots taken meanwhile.
SELECT pg_advisory_xact_lock(hashtext('webhooks.inflight'), hashtext(@webhook_id::text));

-- name: InflightTake :execrows
-- InflightTake takes a slot for a delivery when fewer than max are under way
-- for the webhook; rows older than stale_seconds are a crashed worker's.
INSERT INTO webhooks.inflight (webhook_id, river_job_id)
SELECT @webhook_id::text, @river_job_id::bigint
WHERE (SELECT count(*) FROM webhooks.inflight i
       WHERE i.webhook_id = @webhook_id::text AND i.started_at > clock_timestamp() - make_interval(secs => @stale_seconds::float8)) < @max::int
ON CONFLICT (webhook_id, river_job_id) DO UPDATE SET started_at = clock_timestamp();

-- name: InflightRelease :exec
DELETE FROM webhooks.inflight WHERE webhook_id = @webhook_id AND river_job_id = @river_job_id;
