-- A message's state lives in our own table, because River deletes finished
-- jobs after a while: pending → delivering → succeeded, or retrying → failed
-- (retries exhausted), or cancelled (webhook disabled or deleted).
ALTER TABLE webhooks.messages
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivering', 'succeeded', 'retrying', 'failed', 'cancelled')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_status_code integer,
    ADD COLUMN last_error text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX messages_webhook_id_state_idx ON webhooks.messages (webhook_id, state, created_at);
