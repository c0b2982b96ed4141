-- A message is no longer ever 'delivering': no release since 000008 writes
-- it (a delivery goes from pending or retrying to its outcome in one
-- statement). Its states are those of delivery.MessageStates, which
-- TestStatesAgree holds against this CHECK.

-- A message an earlier release left delivering has a job that will deliver
-- it: it waits, as a pending one does. (open_state is indexed.)
UPDATE webhooks.messages SET state = 'pending' WHERE open_state = 'delivering';

-- The new CHECK reads every message once, under the lock the ALTER takes
-- until the migration commits (the file is one transaction, so NOT VALID
-- and VALIDATE apart would not shorten it): writes to messages wait 0.5 s
-- for 5 million messages (1 GB, in memory) on a 2-core machine; from disk,
-- as long as reading the table takes.
ALTER TABLE webhooks.messages DROP CONSTRAINT messages_state_check1;
ALTER TABLE webhooks.messages ADD CONSTRAINT messages_state_check
    CHECK (state IN ('pending', 'succeeded', 'retrying', 'failed', 'cancelled'));

-- expired_partitions as in 000018, without the messages delivering.
-- (open_state, a generated column, still names 'delivering' among the
-- states it keeps: changing its expression rewrites the table.)
CREATE OR REPLACE FUNCTION webhooks.expired_partitions(before timestamptz)
RETURNS TABLE (from_at timestamptz, to_at timestamptz, unexpanded bigint, undelivered bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.from_at, p.to_at,
        (SELECT count(*) FROM webhooks.capture_queue q WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at),
        (SELECT count(*) FROM river_job j
         WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = 'webhook_deliver'
           AND (j.args ->> 'capturedAt')::timestamptz >= p.from_at AND (j.args ->> 'capturedAt')::timestamptz < p.to_at)
        + (SELECT count(*) FROM webhooks.ordered_queue q
           WHERE q.captured_at >= p.from_at AND q.captured_at < p.to_at AND NOT q.released)
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;
