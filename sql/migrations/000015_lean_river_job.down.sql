DROP INDEX river_job_webhooks_message_id_idx;
CREATE INDEX river_job_webhooks_message_id_idx ON river_job ((args ->> 'messageId')) WHERE kind = 'webhook_deliver';

CREATE INDEX IF NOT EXISTS river_job_args_index ON river_job USING GIN (args);
