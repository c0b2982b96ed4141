-- Replays: a webhook sent again the events of a time range, as its
-- subscription and its creator's role choose them today. A replay makes new
-- messages (new webhook-ids: receivers that dedupe on them would drop the
-- old ones), with the events' own ids, a window at a time, behind live
-- traffic.
CREATE TABLE webhooks.replays (
    id text PRIMARY KEY DEFAULT 'rpl_' || webhooks.gen_id(),
    webhook_id text NOT NULL REFERENCES webhooks.webhooks (id) ON DELETE CASCADE,
    workspace_id text NOT NULL,
    created_by text NOT NULL,
    since timestamptz NOT NULL,
    until timestamptz NOT NULL CHECK (until > since),
    -- event_types narrows the webhook's subscription; null: all of it.
    event_types text[],
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'finished', 'cancelled')),
    -- total is the events the replay chose when it began (its dry run).
    total bigint NOT NULL,
    -- queued counts the messages made so far; after_id is the last event
    -- queued (events go in outbox id order: each resource's in commit order).
    queued bigint NOT NULL DEFAULT 0,
    after_id bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
-- At most one running replay per webhook.
CREATE UNIQUE INDEX replays_webhook_id_running_idx ON webhooks.replays (webhook_id) WHERE state = 'running';
CREATE INDEX replays_webhook_id_idx ON webhooks.replays (webhook_id, created_at);

-- A replay's messages: its progress is counted from them.
ALTER TABLE webhooks.messages ADD COLUMN replay_id text;
CREATE INDEX messages_replay_id_idx ON webhooks.messages (replay_id, state) WHERE replay_id IS NOT NULL;

-- A replay's attempts say so (triggered_by 'replay'). The check is only
-- widened: NOT VALID spares a scan of every attempt kept, which all pass.
-- Its name is delivery_attempts_triggered_by_check1 since 000013 made the
-- table beside its predecessor; found by what it checks rather than trusted.
DO $$
DECLARE
    v_name text;
BEGIN
    FOR v_name IN SELECT conname FROM pg_constraint
        WHERE conrelid = 'webhooks.delivery_attempts'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%triggered_by%'
    LOOP
        EXECUTE format('ALTER TABLE webhooks.delivery_attempts DROP CONSTRAINT %I', v_name);
    END LOOP;
END
$$;
ALTER TABLE webhooks.delivery_attempts ADD CONSTRAINT delivery_attempts_triggered_by_check
    CHECK (triggered_by IN ('schedule', 'manual_retry', 'recover', 'test', 'replay')) NOT VALID;
