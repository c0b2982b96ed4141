-- Attempts made at a request keep their manual_retry.
ALTER TABLE webhooks.messages DROP COLUMN retry_requested_at;
