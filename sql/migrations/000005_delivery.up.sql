-- Delivery: every attempt recorded, endpoint health, and the shared state
-- that rate limits and in-flight caps need across worker processes.

-- delivery_attempts has a row per HTTP attempt. It never holds a secret: the
-- request is rebuilt from the outbox, and only the response is excerpted.
CREATE TABLE webhooks.delivery_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL REFERENCES webhooks.messages (id) ON DELETE CASCADE,
    event_id text NOT NULL,
    webhook_id text NOT NULL,
    workspace_id text NOT NULL,
    event_type text NOT NULL,
    attempt integer NOT NULL,
    url text NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    succeeded boolean NOT NULL,
    status_code integer,
    -- error_class is one of: status (a non-2xx answer), timeout, connection,
    -- blocked (the address is not allowed), redirect, invalid_url.
    error_class text,
    error_message text,
    response_excerpt text,
    river_job_id bigint
);
CREATE INDEX delivery_attempts_message_id_idx ON webhooks.delivery_attempts (message_id, attempt);
CREATE INDEX delivery_attempts_webhook_id_idx ON webhooks.delivery_attempts (webhook_id, started_at);

-- failing_since is when the webhook's current run of failures began (null
-- while it succeeds); it is disabled once that is older than
-- WEBHOOKS_DISABLE_AFTER.
ALTER TABLE webhooks.webhooks
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN last_success_at timestamptz;

-- rate_windows counts deliveries per webhook per second, for
-- rateLimitPerSecond across every worker process.
CREATE TABLE webhooks.rate_windows (
    webhook_id text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count integer NOT NULL
);

-- inflight holds a row per delivery under way, to cap them per webhook; a
-- row older than the request timeout is a crashed worker's and does not count.
CREATE TABLE webhooks.inflight (
    webhook_id text NOT NULL,
    river_job_id bigint NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (webhook_id, river_job_id)
);
