-- name: OutboxDeleteExpired :execrows
-- OutboxDeleteExpired removes a batch of events captured before @before,
-- with their messages and attempts (by cascade), except those still being
-- delivered. Batches keep locks short.
DELETE FROM webhooks.outbox WHERE id IN (
    SELECT o.id FROM webhooks.outbox o
    WHERE o.captured_at < @before AND o.expanded_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM webhooks.messages m
                      WHERE m.outbox_id = o.id AND m.state IN ('pending', 'delivering', 'retrying'))
    ORDER BY o.id
    LIMIT @max
    FOR UPDATE SKIP LOCKED
);

-- name: RateWindowDeleteStale :exec
DELETE FROM webhooks.rate_windows WHERE window_start < now() - interval '1 minute';
