-- History for months at flat cost: the outbox, messages and attempts are
-- partitioned by time, retention drops whole partitions, webhook health comes
-- from roll-ups written with the attempts, and each event keeps one copy of
-- its payload.

-- Every row of the three logs carries captured_at, the time its event was
-- captured, and is partitioned by it: an event, its messages and their
-- attempts share a partition, so that removing one removes all that belongs
-- to its events, and nothing of them stays behind. The three are sliced
-- alike; webhooks.partitions lists the slices. Partitions are made ahead by
-- webhooks.make_partitions (the webhooks_retention job and migrations) and
-- removed by the same job once past WEBHOOKS_RETENTION. There is no DEFAULT
-- partition: a row with no partition fails, so partitions are kept ahead
-- and /readyz says when fewer than two are.
CREATE TABLE webhooks.partitions (
    from_at timestamptz PRIMARY KEY,
    to_at timestamptz NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (to_at > from_at)
);

-- partition_name names a slice's partition of a log table:
-- outbox_20261129t000000 for the slice from 2026-11-29 00:00 UTC.
CREATE FUNCTION webhooks.partition_name(base text, from_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN base || '_' || to_char(from_at AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24MISS');

-- add_partition makes the slice [from_at, to_at) of each log table. Each is
-- made apart and then attached: CREATE TABLE … PARTITION OF would take an
-- ACCESS EXCLUSIVE lock on the parent, which the app's writes to the outbox
-- would queue behind; ATTACH takes SHARE UPDATE EXCLUSIVE, which they do
-- not conflict with, and an empty table is checked at once. Storage settings
-- are per partition: messages change state in place (fillfactor, so the
-- update stays on its page), and the logs only grow until dropped, so
-- autovacuum's insert threshold is what keeps their visibility maps current.
CREATE FUNCTION webhooks.add_partition(from_at timestamptz, to_at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_table text;
    v_name text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['outbox', 'messages', 'delivery_attempts'] LOOP
        v_name := webhooks.partition_name(v_table, from_at);
        EXECUTE format('CREATE TABLE webhooks.%I (LIKE webhooks.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (%s)',
            v_name, v_table, CASE v_table WHEN 'messages' THEN 'fillfactor = 70' ELSE 'fillfactor = 100' END);
        EXECUTE format('ALTER TABLE webhooks.%I ATTACH PARTITION webhooks.%I FOR VALUES FROM (%L) TO (%L)',
            v_table, v_name, from_at, to_at);
    END LOOP;
    INSERT INTO webhooks.partitions (from_at, to_at) VALUES (add_partition.from_at, add_partition.to_at);
END
$$;

-- make_partitions makes slices of length step after the last one (or from
-- the step's boundary before now when there is none) until they reach
-- until, and returns how many it made. Changing step changes the length of
-- the slices made from then on. Callers are serialised: two would make the
-- same slice.
CREATE FUNCTION webhooks.make_partitions(until timestamptz, step interval) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_from timestamptz;
    v_made int := 0;
BEGIN
    IF step < interval '1 second' THEN
        RAISE EXCEPTION 'partition step must be at least 1 second, got %', step;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('webhooks.partitions'));
    SELECT max(p.to_at) INTO v_from FROM webhooks.partitions p;
    IF v_from IS NULL THEN
        v_from := date_bin(step, now(), timestamptz '2000-01-01 00:00:00+00');
    END IF;
    WHILE v_from < until LOOP
        PERFORM webhooks.add_partition(v_from, v_from + step);
        v_from := v_from + step;
        v_made := v_made + 1;
    END LOOP;
    RETURN v_made;
END
$$;

-- partition_state says where a slice's partition of a log table stands
-- while it is removed: attached, detaching (DETACH … CONCURRENTLY was cut
-- off half way and must be finalised), detached, or gone.
CREATE FUNCTION webhooks.partition_state(base text, from_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN c.oid IS NULL THEN 'gone'
        WHEN i.inhdetachpending THEN 'detaching'
        WHEN i.inhrelid IS NOT NULL THEN 'attached'
        ELSE 'detached'
    END
    FROM (SELECT to_regclass(format('webhooks.%I', webhooks.partition_name(base, from_at)))::oid AS oid) c
    LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid;
$$;

-- The views read the tables being replaced; they are made again below.
DROP VIEW webhooks.delivery_log;
DROP VIEW webhooks.message_status;
DROP VIEW webhooks.endpoint_health;
DROP VIEW webhooks.outbox_backlog;

-- The tables as they were, renamed, stripped of the constraints and indexes
-- whose names the new ones take. Their ids go on in sequences of their own:
-- a partitioned table cannot have an identity column before PostgreSQL 17.
ALTER TABLE webhooks.delivery_attempts RENAME TO delivery_attempts_unpartitioned;
ALTER TABLE webhooks.messages RENAME TO messages_unpartitioned;
ALTER TABLE webhooks.outbox RENAME TO outbox_unpartitioned;
ALTER TABLE webhooks.delivery_attempts_unpartitioned DROP CONSTRAINT delivery_attempts_message_id_fkey;
ALTER TABLE webhooks.messages_unpartitioned DROP CONSTRAINT messages_outbox_id_fkey;
ALTER TABLE webhooks.delivery_attempts_unpartitioned DROP CONSTRAINT delivery_attempts_pkey;
ALTER TABLE webhooks.messages_unpartitioned DROP CONSTRAINT messages_pkey, DROP CONSTRAINT messages_outbox_id_webhook_id_key;
ALTER TABLE webhooks.outbox_unpartitioned DROP CONSTRAINT outbox_pkey;
DROP INDEX webhooks.outbox_event_id_key, webhooks.outbox_unexpanded_idx, webhooks.messages_webhook_id_idx,
    webhooks.delivery_attempts_message_id_idx, webhooks.delivery_attempts_webhook_health_idx;

ALTER TABLE webhooks.outbox_unpartitioned ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE webhooks.outbox_id_seq AS bigint;
SELECT setval('webhooks.outbox_id_seq', coalesce((SELECT max(id) FROM webhooks.outbox_unpartitioned), 0) + 1, false);
ALTER TABLE webhooks.delivery_attempts_unpartitioned ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE webhooks.delivery_attempts_id_seq AS bigint;
SELECT setval('webhooks.delivery_attempts_id_seq', coalesce((SELECT max(id) FROM webhooks.delivery_attempts_unpartitioned), 0) + 1, false);

-- outbox: one row per captured change, as in 000002, with one copy of its
-- payload. payload is the row image as captured (table column names) until
-- expansion renders it, in place, as a receiver gets it (webhooks.payload:
-- camelCase keys, timestamps in RFC 3339); rendered says which it holds.
-- previous_attributes likewise, for updates. An event no webhook matched
-- stays as captured: it is rendered when read.
CREATE TABLE webhooks.outbox (
    id bigint NOT NULL DEFAULT nextval('webhooks.outbox_id_seq'),
    event_id text COLLATE "C",
    event_type text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    workspace_id text NOT NULL,
    actor text,
    payload json NOT NULL,
    previous_attributes json,
    rendered boolean NOT NULL DEFAULT false,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expanded_at timestamptz,
    PRIMARY KEY (id, captured_at)
) PARTITION BY RANGE (captured_at);
ALTER SEQUENCE webhooks.outbox_id_seq OWNED BY webhooks.outbox.id;
-- The expander claims unexpanded rows in id order.
CREATE INDEX outbox_unexpanded_idx ON webhooks.outbox (id) WHERE expanded_at IS NULL;

-- messages: the (event, webhook) pairs expansion made, as in 000004 and
-- 000006, with their event's captured_at. The unique pair still guards
-- against expanding an event twice.
CREATE TABLE webhooks.messages (
    id text NOT NULL CHECK (id ~ '^msg_[0-9A-Za-z]{27}$'),
    outbox_id bigint NOT NULL,
    webhook_id text NOT NULL,
    workspace_id text NOT NULL,
    event_type text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivering', 'succeeded', 'retrying', 'failed', 'cancelled')),
    attempts integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    captured_at timestamptz NOT NULL,
    PRIMARY KEY (id, captured_at),
    CONSTRAINT messages_outbox_id_webhook_id_key UNIQUE (outbox_id, webhook_id, captured_at)
) PARTITION BY RANGE (captured_at);
-- A webhook's messages, newest first (the API's and the page's list), in
-- the list's order, id included: without it a page sorted every message of
-- the webhook to find its first 21.
CREATE INDEX messages_webhook_id_idx ON webhooks.messages (webhook_id, created_at, id);
-- The state filter, recover and retention's hold read only the messages
-- that did not succeed: most do, so this index stays small, and a message
-- enters it only when it leaves pending for good or for a retry.
CREATE INDEX messages_webhook_id_state_idx ON webhooks.messages (webhook_id, state, created_at, id) WHERE state <> 'succeeded';
-- The event-type filter reads a webhook's messages of that type alone.
CREATE INDEX messages_webhook_id_event_type_idx ON webhooks.messages (webhook_id, event_type, created_at, id);

-- delivery_attempts: a row per HTTP attempt, as in 000005 and 000010, with
-- its event's captured_at. Appended, never updated, removed with its
-- partition: it needs no primary key, and its id is what the log shows.
CREATE TABLE webhooks.delivery_attempts (
    id bigint NOT NULL DEFAULT nextval('webhooks.delivery_attempts_id_seq'),
    message_id text NOT NULL,
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
    -- blocked (the address is not allowed), redirect, invalid_url,
    -- invalid_secret.
    error_class text,
    error_message text,
    response_excerpt text,
    river_job_id bigint,
    triggered_by text NOT NULL DEFAULT 'schedule'
        CHECK (triggered_by IN ('schedule', 'manual_retry', 'recover', 'test')),
    captured_at timestamptz NOT NULL
) PARTITION BY RANGE (captured_at);
ALTER SEQUENCE webhooks.delivery_attempts_id_seq OWNED BY webhooks.delivery_attempts.id;
CREATE INDEX delivery_attempts_message_id_idx ON webhooks.delivery_attempts (message_id, attempt);
CREATE INDEX delivery_attempts_webhook_id_idx ON webhooks.delivery_attempts (webhook_id, started_at);

-- Slices a day long (UTC) from the oldest event kept, or yesterday, to four
-- days ahead: yesterday's, so that rows dated shortly before the migration
-- (a host's backfill, a test's) still find a partition just after midnight.
SELECT webhooks.add_partition(d, d + interval '1 day')
FROM generate_series(
    date_bin('1 day', least(now() - interval '1 day', (SELECT min(captured_at) FROM webhooks.outbox_unpartitioned)), timestamptz '2000-01-01 00:00:00+00'),
    now() + interval '4 days',
    interval '1 day') AS d;

INSERT INTO webhooks.outbox (id, event_id, event_type, resource_type, resource_id, workspace_id, actor,
    payload, previous_attributes, rendered, captured_at, expanded_at)
SELECT o.id, o.event_id, o.event_type, o.resource_type, o.resource_id, o.workspace_id, o.actor,
    coalesce(o.receiver_payload, o.payload),
    CASE WHEN o.receiver_payload IS NOT NULL THEN o.receiver_previous_attributes ELSE o.previous_attributes::json END,
    o.receiver_payload IS NOT NULL, o.captured_at, o.expanded_at
FROM webhooks.outbox_unpartitioned o;

INSERT INTO webhooks.messages (id, outbox_id, webhook_id, workspace_id, event_type, created_at, state, attempts,
    last_status_code, last_error, updated_at, captured_at)
SELECT m.id, m.outbox_id, m.webhook_id, m.workspace_id, m.event_type, m.created_at, m.state, m.attempts,
    m.last_status_code, m.last_error, m.updated_at, o.captured_at
FROM webhooks.messages_unpartitioned m
JOIN webhooks.outbox_unpartitioned o ON o.id = m.outbox_id;

INSERT INTO webhooks.delivery_attempts (id, message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
    started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id,
    triggered_by, captured_at)
SELECT a.id, a.message_id, a.event_id, a.webhook_id, a.workspace_id, a.event_type, a.attempt, a.url,
    a.started_at, a.duration_ms, a.succeeded, a.status_code, a.error_class, a.error_message, a.response_excerpt, a.river_job_id,
    a.triggered_by, o.captured_at
FROM webhooks.delivery_attempts_unpartitioned a
JOIN webhooks.messages_unpartitioned m ON m.id = a.message_id
JOIN webhooks.outbox_unpartitioned o ON o.id = m.outbox_id;

-- expired_partitions lists the slices that end before before, oldest
-- first, with what holds each: events not yet expanded, and messages still
-- to be delivered (pending, retrying, or an earlier release's delivering).
-- A slice held by either is kept until they are done.
CREATE FUNCTION webhooks.expired_partitions(before timestamptz)
RETURNS TABLE (from_at timestamptz, to_at timestamptz, unexpanded bigint, undelivered bigint)
LANGUAGE sql STABLE AS $$
    SELECT p.from_at, p.to_at,
        (SELECT count(*) FROM webhooks.outbox o
         WHERE o.captured_at >= p.from_at AND o.captured_at < p.to_at AND o.expanded_at IS NULL),
        (SELECT count(*) FROM webhooks.messages m
         WHERE m.captured_at >= p.from_at AND m.captured_at < p.to_at AND m.state IN ('pending', 'retrying', 'delivering'))
    FROM webhooks.partitions p
    WHERE p.to_at <= before
    ORDER BY p.from_at;
$$;

-- Health roll-ups, written by record_attempts in the statement that writes
-- the attempts, so that lists and endpoint_health read a few rows per
-- webhook whatever the traffic. webhook_stats counts attempts per webhook
-- and five-minute bucket (kept as long as the logs); webhook_health holds
-- each webhook's last attempt, success and failure, and its failures since
-- its last success. webhook_id has no foreign key, as in the logs: a deleted
-- webhook's history stays.
CREATE TABLE webhooks.webhook_stats (
    webhook_id text NOT NULL,
    bucket timestamptz NOT NULL,
    attempts integer NOT NULL,
    succeeded integer NOT NULL,
    PRIMARY KEY (webhook_id, bucket)
);

CREATE TABLE webhooks.webhook_health (
    webhook_id text PRIMARY KEY,
    last_attempt_at timestamptz NOT NULL,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    failures_since_success bigint NOT NULL DEFAULT 0
);

-- stats_bucket is the five-minute bucket an attempt counts in.
CREATE FUNCTION webhooks.stats_bucket(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN date_bin('5 minutes', t, timestamptz '2000-01-01 00:00:00+00');

INSERT INTO webhooks.webhook_stats (webhook_id, bucket, attempts, succeeded)
SELECT a.webhook_id, webhooks.stats_bucket(a.started_at), count(*), count(*) FILTER (WHERE a.succeeded)
FROM webhooks.delivery_attempts a
GROUP BY 1, 2;

INSERT INTO webhooks.webhook_health (webhook_id, last_attempt_at, last_success_at, last_failure_at, failures_since_success)
SELECT a.webhook_id, max(a.started_at), max(a.started_at) FILTER (WHERE a.succeeded), max(a.started_at) FILTER (WHERE NOT a.succeeded),
    count(*) FILTER (WHERE NOT a.succeeded AND a.started_at > coalesce(s.last_success_at, '-infinity'))
FROM webhooks.delivery_attempts a
LEFT JOIN LATERAL (
    SELECT max(x.started_at) AS last_success_at FROM webhooks.delivery_attempts x WHERE x.webhook_id = a.webhook_id AND x.succeeded
) s ON true
GROUP BY a.webhook_id;

DROP TABLE webhooks.delivery_attempts_unpartitioned;
DROP TABLE webhooks.messages_unpartitioned;
DROP TABLE webhooks.outbox_unpartitioned;

-- record_attempts as in 000010, with the attempts' captured_at (which finds
-- their messages' partition: the records carry it, or, from a worker of an
-- earlier release, it is looked up), and the roll-ups, counted from the
-- attempts it wrote.
CREATE OR REPLACE FUNCTION webhooks.record_attempts(records json, disable_after_seconds float8)
RETURNS TABLE (webhook_id text, failing_since timestamptz, past_disable_after boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_from timestamptz;
    v_to timestamptz;
BEGIN
    -- The batch's range of captured_at, as parameters, so that only the
    -- partitions it touches are read.
    SELECT CASE WHEN bool_and(r.captured_at IS NOT NULL) THEN min(r.captured_at) ELSE '-infinity' END,
        CASE WHEN bool_and(r.captured_at IS NOT NULL) THEN max(r.captured_at) ELSE 'infinity' END
    INTO v_from, v_to
    FROM json_to_recordset(records) AS r (captured_at timestamptz);

    -- The messages first: their rows locked, a batch racing this one for
    -- the same message (a rescued job beside the one still running) waits,
    -- then numbers its attempts after these.
    WITH r AS (
        SELECT r.*, coalesce(r.captured_at, (SELECT m.captured_at FROM webhooks.messages m WHERE m.id = r.message_id LIMIT 1)) AS at
        FROM json_to_recordset(records) AS r (n int, message_id text, event_id text, webhook_id text, workspace_id text,
            event_type text, url text, started_at timestamptz, duration_ms float8, succeeded boolean, status_code int,
            error_class text, error_message text, response_excerpt text, river_job_id bigint, state text, last_error text,
            triggered_by text, captured_at timestamptz)
    ), latest AS (
        SELECT DISTINCT ON (r.message_id) r.message_id, r.at, r.state, r.status_code, r.last_error,
            count(*) OVER (PARTITION BY r.message_id) AS made
        FROM r
        ORDER BY r.message_id, r.n DESC
    ), message AS (
        UPDATE webhooks.messages m
        SET state = l.state, last_status_code = l.status_code, last_error = l.last_error, updated_at = now(),
            attempts = m.attempts + l.made
        FROM latest l
        -- The ids as an array too: json_to_recordset is estimated at 100
        -- rows, and the join alone plans a scan of every message.
        WHERE m.id = l.message_id AND m.captured_at = l.at
          AND m.captured_at >= v_from AND m.captured_at <= v_to
          AND m.id = ANY (ARRAY(SELECT x.message_id FROM json_to_recordset(records) AS x (message_id text)))
        RETURNING m.id, m.attempts - l.made AS earlier
    ), inserted AS (
        INSERT INTO webhooks.delivery_attempts (message_id, event_id, webhook_id, workspace_id, event_type, attempt, url,
            started_at, duration_ms, succeeded, status_code, error_class, error_message, response_excerpt, river_job_id,
            triggered_by, captured_at)
        SELECT r.message_id, r.event_id, r.webhook_id, r.workspace_id, r.event_type,
            message.earlier + row_number() OVER (PARTITION BY r.message_id ORDER BY r.n),
            r.url, r.started_at, r.duration_ms, r.succeeded, r.status_code, r.error_class, r.error_message,
            r.response_excerpt, r.river_job_id,
            -- A worker of an earlier release sends none: its attempts are the
            -- schedule's, as they were before.
            coalesce(nullif(r.triggered_by, ''), 'schedule'), r.at
        FROM r JOIN message ON message.id = r.message_id
        ORDER BY r.n
        RETURNING webhook_id, started_at, succeeded
    ), stats AS (
        -- Rows in a fixed order: concurrent batches lock them alike.
        INSERT INTO webhooks.webhook_stats AS s (webhook_id, bucket, attempts, succeeded)
        SELECT i.webhook_id, webhooks.stats_bucket(i.started_at), count(*), count(*) FILTER (WHERE i.succeeded)
        FROM inserted i
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (webhook_id, bucket) DO UPDATE
        SET attempts = s.attempts + excluded.attempts, succeeded = s.succeeded + excluded.succeeded
    ), last_success AS (
        SELECT i.webhook_id, max(i.started_at) FILTER (WHERE i.succeeded) AS at FROM inserted i GROUP BY 1
    )
    -- The failures counted are those after the last success known, the
    -- batch's or an earlier one's: a success newer than any before restarts
    -- the count; other batches add to it. (Attempts recorded out of their
    -- order, by concurrent processes, may be counted a little off.)
    INSERT INTO webhooks.webhook_health AS h (webhook_id, last_attempt_at, last_success_at, last_failure_at, failures_since_success)
    SELECT i.webhook_id, max(i.started_at), max(i.started_at) FILTER (WHERE i.succeeded), max(i.started_at) FILTER (WHERE NOT i.succeeded),
        count(*) FILTER (WHERE NOT i.succeeded AND i.started_at > coalesce(greatest(l.at, k.last_success_at), '-infinity'))
    FROM inserted i
    JOIN last_success l ON l.webhook_id = i.webhook_id
    LEFT JOIN webhooks.webhook_health k ON k.webhook_id = i.webhook_id
    GROUP BY i.webhook_id
    ORDER BY i.webhook_id
    ON CONFLICT (webhook_id) DO UPDATE
    SET last_attempt_at = greatest(h.last_attempt_at, excluded.last_attempt_at),
        last_success_at = greatest(h.last_success_at, excluded.last_success_at),
        last_failure_at = greatest(h.last_failure_at, excluded.last_failure_at),
        failures_since_success = CASE WHEN excluded.last_success_at > coalesce(h.last_success_at, '-infinity')
            THEN excluded.failures_since_success
            ELSE h.failures_since_success + excluded.failures_since_success END;

    UPDATE webhooks.webhooks w
    SET failing_since = NULL, last_success_at = now()
    WHERE w.id = ANY (ARRAY(SELECT r.webhook_id FROM json_to_recordset(records) AS r (webhook_id text, succeeded boolean) WHERE r.succeeded))
      AND (w.failing_since IS NOT NULL OR w.last_success_at IS NULL OR w.last_success_at < now() - interval '1 minute');

    -- marked is run for its update, though nothing reads it (a data-modifying
    -- CTE always runs).
    RETURN QUERY WITH failed AS (
        SELECT r.webhook_id FROM json_to_recordset(records) AS r (webhook_id text, succeeded boolean)
        GROUP BY r.webhook_id HAVING NOT bool_or(r.succeeded)
    ), marked AS (
        UPDATE webhooks.webhooks w SET failing_since = now()
        WHERE w.id = ANY (ARRAY(SELECT f.webhook_id FROM failed f)) AND w.failing_since IS NULL
        RETURNING w.id
    )
    SELECT w.id, coalesce(w.failing_since, now()),
        coalesce(w.failing_since < now() - make_interval(secs => disable_after_seconds), false)
    FROM webhooks.webhooks w
    WHERE w.id = ANY (ARRAY(SELECT f.webhook_id FROM failed f));
END
$$;

-- park_deliveries as in 000008, reading a webhook's available jobs from an
-- index of their own rather than scanning every available delivery job.
-- A job enters it when inserted (or made available again) and no later
-- version does, so it costs little beside River's own indexes.
CREATE INDEX river_job_webhooks_available_idx ON river_job ((args ->> 'webhookId'), id)
    WHERE state = 'available' AND kind = 'webhook_deliver';

-- River's table has several versions of every job (inserted, running,
-- completed, deleted by River's cleaner). At the default thresholds
-- autovacuum waited for a fifth of it to be dead and then crept through it:
-- under a steady 1,000 deliveries a second a soak's latency grew as its
-- indexes bloated. Vacuumed at each hundredth of change, undelayed, it keeps
-- up. Storage settings only: River's migrations own its columns and
-- indexes.
ALTER TABLE river_job SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0);

CREATE OR REPLACE FUNCTION webhooks.park_deliveries(webhook_id text, wake timestamptz, spacing_seconds float8, latest timestamptz, max_jobs int)
RETURNS int
LANGUAGE sql VOLATILE AS $$
    WITH parked AS (
        SELECT l.id, wake + (row_number() OVER (ORDER BY l.id) - 1)
            * make_interval(secs => least(spacing_seconds, extract(epoch FROM latest - wake)::float8 / count(*) OVER ())) AS wake_at
        FROM (
            SELECT r.id FROM river_job r
            WHERE r.state = 'available' AND r.kind = 'webhook_deliver'
              AND r.args ->> 'webhookId' = park_deliveries.webhook_id
              AND r.queue = 'webhook_deliver'
            ORDER BY r.args ->> 'webhookId', r.id
            LIMIT max_jobs
            FOR UPDATE SKIP LOCKED
        ) l
    ), moved AS (
        UPDATE river_job j SET state = 'scheduled', scheduled_at = p.wake_at
        FROM parked p
        WHERE j.id = p.id
        RETURNING 1
    )
    SELECT count(*)::int FROM moved;
$$;

-- The views as in 000007 and 000010, over the partitioned logs;
-- endpoint_health reads the roll-ups, and message_status the count of
-- attempts its message keeps.
CREATE VIEW webhooks.delivery_log AS
SELECT a.id AS attempt_id, a.started_at, a.message_id, a.event_id, a.event_type, a.attempt,
    a.webhook_id, w.name AS webhook_name, webhooks.endpoint(a.url) AS endpoint, a.workspace_id,
    CASE WHEN a.succeeded THEN 'succeeded' ELSE 'failed' END AS outcome,
    a.status_code, round(a.duration_ms::numeric, 1) AS latency_ms, a.error_class, a.error_message,
    a.response_excerpt, a.river_job_id, a.triggered_by
FROM webhooks.delivery_attempts a
LEFT JOIN webhooks.webhooks w ON w.id = a.webhook_id;

CREATE VIEW webhooks.message_status AS
SELECT m.id AS message_id, o.event_id, m.event_type, m.webhook_id, w.name AS webhook_name, m.workspace_id,
    m.state, m.attempts::bigint AS attempts,
    m.last_status_code, m.last_error, m.created_at, m.updated_at,
    (SELECT j.scheduled_at FROM river_job j
     WHERE j.kind = 'webhook_deliver' AND j.args ->> 'messageId' = m.id AND j.state IN ('available', 'scheduled', 'retryable')
     ORDER BY j.id DESC LIMIT 1) AS next_attempt_at
FROM webhooks.messages m
JOIN webhooks.outbox o ON o.id = m.outbox_id AND o.captured_at = m.captured_at
LEFT JOIN webhooks.webhooks w ON w.id = m.webhook_id;

-- Rates over the buckets that overlap the last hour and day: up to five
-- minutes more than the hour or day.
CREATE VIEW webhooks.endpoint_health AS
SELECT w.id AS webhook_id, w.name, webhooks.endpoint(w.url) AS endpoint, w.workspace_id, w.enabled, w.disabled_reason, w.disabled_at,
    h.attempts_1h, h.success_rate_1h, d.attempts_24h, d.success_rate_24h,
    l.last_success_at, l.last_failure_at, coalesce(l.failures_since_success, 0) AS failures_since_success,
    w.failing_since
FROM webhooks.webhooks w
LEFT JOIN webhooks.webhook_health l ON l.webhook_id = w.id
CROSS JOIN LATERAL (
    SELECT coalesce(sum(s.attempts), 0)::bigint AS attempts_1h,
        round(sum(s.succeeded)::numeric * 100 / nullif(sum(s.attempts), 0), 1) AS success_rate_1h
    FROM webhooks.webhook_stats s WHERE s.webhook_id = w.id AND s.bucket > now() - interval '1 hour 5 minutes'
) h
CROSS JOIN LATERAL (
    SELECT coalesce(sum(s.attempts), 0)::bigint AS attempts_24h,
        round(sum(s.succeeded)::numeric * 100 / nullif(sum(s.attempts), 0), 1) AS success_rate_24h
    FROM webhooks.webhook_stats s WHERE s.webhook_id = w.id AND s.bucket > now() - interval '1 day 5 minutes'
) d;

CREATE VIEW webhooks.outbox_backlog AS
SELECT count(*) AS unexpanded, min(captured_at) AS oldest_captured_at, now() - min(captured_at) AS oldest_age
FROM webhooks.outbox
WHERE expanded_at IS NULL;

GRANT SELECT ON webhooks.delivery_log, webhooks.message_status, webhooks.endpoint_health, webhooks.outbox_backlog TO webhooks_reader;
