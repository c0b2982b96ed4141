CREATE INDEX delivery_attempts_webhook_id_idx ON webhooks.delivery_attempts (webhook_id, started_at);
DROP INDEX webhooks.delivery_attempts_webhook_health_idx;
DROP TABLE webhooks.portal_sessions;
