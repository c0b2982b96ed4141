-- name: MessageGetForDeliveryMany :many
-- MessageGetForDeliveryMany returns what deliveries need, by primary keys:
-- each message's state and when a retry was last asked for, the event as a receiver gets it, the webhook (null fields when it was deleted) and its
-- secrets, and whether its replay was cancelled. The messages' events were captured between captured_from and
-- captured_to: only those partitions are read.
SELECT m.id, m.webhook_id, m.state, m.retry_requested_at, o.event_id, o.event_type, o.workspace_id, o.captured_at,
    -- Rendered at expansion; an event expanded before that was done is
    -- rendered here. json, not jsonb: the table's column order reaches the
    -- receiver.
    (CASE WHEN o.rendered THEN o.payload ELSE webhooks.payload(o.resource_type, o.payload) END)::json AS payload,
    (CASE WHEN o.rendered THEN o.previous_attributes ELSE webhooks.payload(o.resource_type, o.previous_attributes) END)::json AS previous_attributes,
    (w.id IS NOT NULL)::boolean AS webhook_exists, coalesce(w.url, '')::text AS url,
    coalesce(w.enabled, false)::boolean AS enabled, w.disabled_reason, w.rate_limit_per_second,
    coalesce(s.secret, '')::text AS secret, s.previous_secret, s.previous_expires_at,
    (m.replay_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM webhooks.replays r WHERE r.id = m.replay_id AND r.state = 'cancelled'))::boolean AS replay_cancelled
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id
LEFT JOIN webhooks.signing_secrets s ON s.webhook_id = m.webhook_id
WHERE m.id = ANY (@ids::text[])
  AND m.captured_at >= @captured_from AND m.captured_at <= @captured_to
  AND o.captured_at >= @captured_from AND o.captured_at <= @captured_to;

-- name: AttemptRecordMany :many
-- AttemptRecordMany writes a batch of attempts, their messages' states and
-- their webhooks' health in one statement (webhooks.record_attempts); records
-- is a JSON array of attemptRecord.
SELECT r.webhook_id::text AS webhook_id, r.failing_since::timestamptz AS failing_since, r.past_disable_after::boolean AS past_disable_after
FROM webhooks.record_attempts(@records::json, @disable_after_seconds::float8) r;

-- name: WebhookDisable :execrows
-- WebhookDisable disables a webhook that is enabled, with the reason; it
-- returns 1 when it did, 0 when the webhook was disabled already.
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

-- name: DeliveryJobsPark :one
-- DeliveryJobsPark puts a webhook's backlog aside (webhooks.park_deliveries)
-- and returns how many jobs it moved.
SELECT webhooks.park_deliveries(@webhook_id::text, @wake::timestamptz, @spacing_seconds::float8, @latest::timestamptz, @max_jobs::int)::int AS parked;

-- name: AttemptRecorded :one
-- AttemptRecorded says whether an attempt is in the log: a batch retried
-- after an error may have been committed all the same (the answer lost with
-- the connection), and a batch is written whole or not at all.
SELECT EXISTS (
    SELECT 1 FROM webhooks.delivery_attempts
    WHERE message_id = @message_id AND started_at = @started_at AND captured_at = @captured_at
)::boolean AS recorded;
