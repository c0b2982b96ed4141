-- Messages still waiting in the ordered queue have no delivery job: without
-- the queue nothing would send them. They are cancelled, saying so, and
-- can be retried from the API or recovered.
UPDATE webhooks.messages m
SET state = 'cancelled', last_error = 'not sent: ordered delivery was removed while it waited (migration 000018 down); retry it',
    updated_at = now()
FROM webhooks.ordered_queue q
WHERE m.id = q.message_id AND m.captured_at = q.captured_at AND NOT q.released;

-- expired_partitions and message_pending_from as in 000014.
CREATE OR REPLACE FUNCTION webhooks.expired_partitions(before timestamptz)
RETURNS TABLE (from_at timestamptz, to_at timestamptz, unexpanded bigint, undelivered bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.from_at, p.to_at,
        (SELECT count(*) FROM webhooks.capture_queue q WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at),
        (SELECT count(*) FROM river_job j
         WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
           AND (j.args ->> 'capturedAt')::timestamptz >= p.from_at AND (j.args ->> 'capturedAt')::timestamptz < p.to_at)
        + (SELECT count(*) FROM webhooks.messages m
           WHERE m.captured_at >= p.from_at AND m.captured_at < p.to_at AND m.open_state = 'delivering')
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;

CREATE OR REPLACE FUNCTION webhooks.message_pending_from(webhook_id text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT min((j.args ->> 'capturedAt')::timestamptz)
    FROM river_job j
    WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
      AND j.args ->> 'webhookId' = message_pending_from.webhook_id;
$$;

DROP TABLE webhooks.ordered_queue;
ALTER TABLE webhooks.webhooks DROP COLUMN ordered;
