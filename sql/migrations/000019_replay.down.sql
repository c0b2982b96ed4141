-- A replay's attempts are counted as the schedule's, as before.
UPDATE webhooks.delivery_attempts SET triggered_by = 'schedule' WHERE triggered_by = 'replay';
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
    CHECK (triggered_by IN ('schedule', 'manual_retry', 'recover', 'test')) NOT VALID;
-- A replay's messages stay, as any message; their replays go.
DROP INDEX webhooks.messages_replay_id_idx;
ALTER TABLE webhooks.messages DROP COLUMN replay_id;
DROP TABLE webhooks.replays;
