-- Events about webhooks: webhook.failing, webhook.disabled,
-- webhook.recovered and message.exhausted. They are captured into the queue
-- by triggers, in the transaction that changes what they report, and
-- expanded and delivered like any event, to the workspace's webhooks that
-- name them (not "*") and whose creators are owners or admins.
--
-- Their resource types, webhook and message, are reserved: no app table may
-- be tracked under them.
ALTER TABLE webhooks.tracked_tables
    ADD CONSTRAINT tracked_tables_resource_type_reserved CHECK (resource_type NOT IN ('webhook', 'message'));

-- failing_notified_at is when webhook.failing was last captured for the
-- current run of failures: it is captured again at most hourly.
ALTER TABLE webhooks.webhooks ADD COLUMN failing_notified_at timestamptz;

-- is_admin: whether a user is an owner or admin of a workspace now.
CREATE FUNCTION webhooks.is_admin(user_id text, workspace_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN EXISTS (
    SELECT 1 FROM public.workspace_members m
    WHERE m.workspace_id = is_admin.workspace_id AND m.user_id = is_admin.user_id AND m.role IN ('owner', 'admin')
);

-- utc_ms writes a time as receivers get every timestamp.
CREATE FUNCTION webhooks.utc_ms(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

-- capture_webhook_event queues an event about a webhook or a message, as
-- capture() queues a row's, and wakes the expanders.
CREATE FUNCTION webhooks.capture_webhook_event(event_type text, resource_id text, workspace_id text, payload jsonb)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhooks.capture_queue (event_type, resource_type, resource_id, workspace_id, payload)
    VALUES (event_type, split_part(event_type, '.', 1), resource_id, workspace_id, payload::json);
    PERFORM pg_notify('webhooks_outbox', '');
END
$$;

-- webhook_event_payload is a webhook as events about it show it.
CREATE FUNCTION webhooks.webhook_event_payload(w webhooks.webhooks) RETURNS jsonb
LANGUAGE sql STABLE
RETURN jsonb_build_object('webhook_id', w.id, 'name', w.name, 'url', w.url, 'created_by', w.created_by);

-- webhook_health_events: record_attempts keeps webhook_health; a run of
-- failures starting (or still going an hour after it was last reported)
-- is webhook.failing, and its end by a success webhook.recovered.
CREATE FUNCTION webhooks.webhook_health_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_webhook webhooks.webhooks;
    v_failing boolean := NEW.failures_since_success > 0;
    v_was_failing boolean := TG_OP = 'UPDATE' AND OLD.failures_since_success > 0;
    v_error text;
    v_status integer;
BEGIN
    SELECT * INTO v_webhook FROM webhooks.webhooks w WHERE w.id = NEW.webhook_id;
    IF NOT FOUND THEN
        RETURN NULL; -- deleted meanwhile
    END IF;
    IF v_failing AND (NOT v_was_failing OR v_webhook.failing_notified_at IS NULL
            OR v_webhook.failing_notified_at < now() - interval '1 hour') THEN
        SELECT a.error_message, a.status_code INTO v_error, v_status
        FROM webhooks.delivery_attempts a
        WHERE a.webhook_id = NEW.webhook_id AND NOT a.succeeded
        ORDER BY a.started_at DESC LIMIT 1;
        PERFORM webhooks.capture_webhook_event('webhook.failing', v_webhook.id, v_webhook.workspace_id,
            webhooks.webhook_event_payload(v_webhook) || jsonb_build_object(
                -- record_attempts marks failing_since after this, with
                -- the same now(): the transaction's.
                'failing_since', webhooks.utc_ms(coalesce(v_webhook.failing_since, now())),
                'last_failure_at', webhooks.utc_ms(NEW.last_failure_at),
                'failures_since_success', NEW.failures_since_success,
                'last_status_code', v_status, 'last_error', v_error,
                'enabled', v_webhook.enabled));
        UPDATE webhooks.webhooks w SET failing_notified_at = now() WHERE w.id = NEW.webhook_id;
    ELSIF NOT v_failing AND v_was_failing THEN
        PERFORM webhooks.capture_webhook_event('webhook.recovered', v_webhook.id, v_webhook.workspace_id,
            webhooks.webhook_event_payload(v_webhook) || jsonb_build_object(
                'recovered_at', webhooks.utc_ms(NEW.last_success_at),
                'failures', OLD.failures_since_success));
        UPDATE webhooks.webhooks w SET failing_notified_at = NULL WHERE w.id = NEW.webhook_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_health_events_insert AFTER INSERT ON webhooks.webhook_health
FOR EACH ROW WHEN (NEW.failures_since_success > 0)
EXECUTE FUNCTION webhooks.webhook_health_events();
-- A healthy webhook's successes never call the function.
CREATE TRIGGER webhook_health_events_update AFTER UPDATE ON webhooks.webhook_health
FOR EACH ROW WHEN (NEW.failures_since_success > 0 OR OLD.failures_since_success > 0)
EXECUTE FUNCTION webhooks.webhook_health_events();

-- webhook_disabled_event: a webhook disabled, by hand, by the rule of
-- WEBHOOKS_DISABLE_AFTER or by a 410 Gone, is webhook.disabled.
CREATE FUNCTION webhooks.webhook_disabled_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhooks.capture_webhook_event('webhook.disabled', NEW.id, NEW.workspace_id,
        webhooks.webhook_event_payload(NEW) || jsonb_build_object(
            'reason', NEW.disabled_reason,
            'disabled_at', webhooks.utc_ms(NEW.disabled_at),
            'failing_since', webhooks.utc_ms(NEW.failing_since)));
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_disabled_event AFTER UPDATE OF enabled ON webhooks.webhooks
FOR EACH ROW WHEN (OLD.enabled AND NOT NEW.enabled)
EXECUTE FUNCTION webhooks.webhook_disabled_event();

-- message_exhausted_event: a message whose last retry failed is
-- message.exhausted, unless it was itself about a webhook or a message: two
-- failing webhooks would otherwise report each other's exhausted reports
-- for ever. The trigger is the messages table's, cloned onto each
-- partition, present and to come; its condition keeps every other update
-- of a message from calling it.
CREATE FUNCTION webhooks.message_exhausted_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_event_id text;
BEGIN
    SELECT o.event_id INTO v_event_id FROM webhooks.outbox o WHERE o.id = NEW.outbox_id AND o.captured_at = NEW.captured_at;
    PERFORM webhooks.capture_webhook_event('message.exhausted', NEW.id, NEW.workspace_id, jsonb_build_object(
        'message_id', NEW.id, 'webhook_id', NEW.webhook_id, 'event_id', v_event_id, 'event_type', NEW.event_type,
        'attempts', NEW.attempts, 'last_status_code', NEW.last_status_code, 'last_error', NEW.last_error,
        'captured_at', webhooks.utc_ms(NEW.captured_at), 'failed_at', webhooks.utc_ms(now())));
    RETURN NULL;
END
$$;

CREATE TRIGGER message_exhausted_event AFTER UPDATE OF state ON webhooks.messages
FOR EACH ROW WHEN (NEW.state = 'failed' AND OLD.state <> 'failed'
    AND NEW.event_type NOT LIKE 'webhook.%' AND NEW.event_type NOT LIKE 'message.%')
EXECUTE FUNCTION webhooks.message_exhausted_event();
