-- record_attempts parses its batch once. It parsed the JSON four times (the
-- range of captured_at, the rows, the ids, the failed webhooks): perf of a
-- batch of 10 attempts on one connection (BenchmarkRecordAttempts) put a
-- fifth of the backend's time in the JSON parser. The records are read into
-- an array of attempt_record, which the statements unnest.
--
-- attempt_record is the record the recorder sends (delivery.Attempt), a
-- field for each; a field it does not send is NULL, as json_to_recordset
-- made it.
CREATE TYPE webhooks.attempt_record AS (n int, message_id text, event_id text, webhook_id text, workspace_id text,
    event_type text, url text, started_at timestamptz, duration_ms float8, succeeded boolean, status_code int,
    error_class text, error_message text, response_excerpt text, river_job_id bigint, state text, last_error text,
    triggered_by text, captured_at timestamptz);

CREATE OR REPLACE FUNCTION webhooks.record_attempts(records json, disable_after_seconds float8)
RETURNS TABLE (webhook_id text, failing_since timestamptz, past_disable_after boolean)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    v_records webhooks.attempt_record[];
    v_complete boolean;
    v_from timestamptz;
    v_to timestamptz;
    v_record webhooks.attempt_record;
BEGIN
    -- The records parsed once, and the batch's range of captured_at, as
    -- parameters, so that only the partitions it touches are read.
    SELECT array_agg(r ORDER BY r.n), bool_and(r.captured_at IS NOT NULL), min(r.captured_at), max(r.captured_at)
    INTO v_records, v_complete, v_from, v_to
    FROM json_populate_recordset(NULL::webhooks.attempt_record, records) AS r;
    -- A worker of an earlier release sends no captured_at: it is looked up
    -- here, not in the statement below, whose kept plan prepared that
    -- look-up in every partition of messages at each batch (6 % of its time
    -- with 36 partitions, perf), for records that need it only while such
    -- a worker runs.
    IF NOT v_complete THEN
        FOR i IN 1 .. cardinality(v_records) LOOP
            v_record := v_records[i];
            IF v_record.captured_at IS NULL THEN
                v_record.captured_at := (SELECT m.captured_at FROM webhooks.messages m WHERE m.id = v_record.message_id LIMIT 1);
                v_records[i] := v_record;
            END IF;
        END LOOP;
        SELECT CASE WHEN bool_and(r.captured_at IS NOT NULL) THEN min(r.captured_at) ELSE '-infinity' END,
            CASE WHEN bool_and(r.captured_at IS NOT NULL) THEN max(r.captured_at) ELSE 'infinity' END
        INTO v_from, v_to
        FROM unnest(v_records) AS r;
    END IF;

    -- The messages first: their rows locked, a batch racing this one for
    -- the same message (a rescued job beside the one still running) waits,
    -- then numbers its attempts after these.
    WITH r AS (
        SELECT r.*, r.captured_at AS at
        FROM unnest(v_records) AS r
    ), latest AS (
        SELECT DISTINCT ON (r.message_id) r.message_id, r.at, r.state, r.status_code, r.last_error,
            count(*) OVER (PARTITION BY r.message_id) AS made
        FROM r
        ORDER BY r.message_id, r.n DESC
    ), message AS (
        UPDATE webhooks.messages m
        SET state = l.state, open_state = webhooks.open_state(l.state), last_status_code = l.status_code, last_error = l.last_error, updated_at = now(),
            attempts = m.attempts + l.made
        FROM latest l
        -- The ids as an array too: the join alone plans a scan of every
        -- message.
        WHERE m.id = l.message_id AND m.captured_at = l.at
          AND m.captured_at >= v_from AND m.captured_at <= v_to
          AND m.id = ANY (ARRAY(SELECT x.message_id FROM unnest(v_records) AS x))
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
    WHERE w.id = ANY (ARRAY(SELECT r.webhook_id FROM unnest(v_records) AS r WHERE r.succeeded))
      AND (w.failing_since IS NOT NULL OR w.last_success_at IS NULL OR w.last_success_at < now() - interval '1 minute');

    -- marked is run for its update, though nothing reads it (a data-modifying
    -- CTE always runs).
    RETURN QUERY WITH failed AS (
        SELECT r.webhook_id FROM unnest(v_records) AS r
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
