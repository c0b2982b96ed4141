DROP INDEX webhooks.messages_webhook_id_state_idx;
ALTER TABLE webhooks.messages DROP COLUMN state, DROP COLUMN attempts, DROP COLUMN last_status_code,
    DROP COLUMN last_error, DROP COLUMN updated_at;
