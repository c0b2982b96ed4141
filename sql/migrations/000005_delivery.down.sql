DROP TABLE webhooks.inflight;
DROP TABLE webhooks.rate_windows;
ALTER TABLE webhooks.webhooks DROP COLUMN failing_since, DROP COLUMN last_success_at;
DROP TABLE webhooks.delivery_attempts;
