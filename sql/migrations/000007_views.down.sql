REVOKE ALL ON webhooks.delivery_log, webhooks.message_status, webhooks.endpoint_health, webhooks.outbox_backlog FROM webhooks_reader;
REVOKE USAGE ON SCHEMA webhooks FROM webhooks_reader;
DROP VIEW webhooks.outbox_backlog;
DROP VIEW webhooks.endpoint_health;
DROP VIEW webhooks.message_status;
DROP VIEW webhooks.delivery_log;
DROP FUNCTION webhooks.endpoint(text);
DROP INDEX IF EXISTS river_job_webhooks_message_id_idx;
