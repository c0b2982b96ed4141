ALTER TABLE webhooks.messages DROP CONSTRAINT messages_state_check;
ALTER TABLE webhooks.messages ADD CONSTRAINT messages_state_check1
    CHECK (state IN ('pending', 'delivering', 'succeeded', 'retrying', 'failed', 'cancelled'));

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
        + (SELECT count(*) FROM webhooks.ordered_queue q
           WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at AND NOT q.released)
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;
