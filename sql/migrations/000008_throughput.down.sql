DROP FUNCTION webhooks.park_deliveries(text, timestamptz, float8, timestamptz, int);
CREATE OR REPLACE VIEW webhooks.endpoint_health AS
SELECT w.id AS webhook_id, w.name, webhooks.endpoint(w.url) AS endpoint, w.workspace_id, w.enabled, w.disabled_reason, w.disabled_at,
    h.attempts_1h, h.success_rate_1h, d.attempts_24h, d.success_rate_24h,
    w.last_success_at,
    (SELECT max(a.started_at) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded) AS last_failure_at,
    (SELECT count(*) FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND NOT a.succeeded
       AND a.started_at > coalesce(w.last_success_at, '-infinity')) AS failures_since_success,
    w.failing_since
FROM webhooks.webhooks w
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_1h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_1h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 hour'
) h
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts_24h, round(avg(a.succeeded::int) * 100, 1) AS success_rate_24h
    FROM webhooks.delivery_attempts a WHERE a.webhook_id = w.id AND a.started_at > now() - interval '1 day'
) d;
DROP FUNCTION webhooks.record_attempts(json, float8);
CREATE TABLE webhooks.inflight (
    webhook_id text NOT NULL,
    river_job_id bigint NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (webhook_id, river_job_id)
);
ALTER TABLE webhooks.outbox DROP COLUMN receiver_payload, DROP COLUMN receiver_previous_attributes;
ALTER TABLE webhooks.messages RESET (fillfactor);
CREATE INDEX messages_webhook_id_state_idx ON webhooks.messages (webhook_id, state, created_at);
