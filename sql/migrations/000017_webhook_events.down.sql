DROP TRIGGER message_exhausted_event ON webhooks.messages;
DROP FUNCTION webhooks.message_exhausted_event();
DROP TRIGGER webhook_disabled_event ON webhooks.webhooks;
DROP FUNCTION webhooks.webhook_disabled_event();
DROP TRIGGER webhook_health_events_update ON webhooks.webhook_health;
DROP TRIGGER webhook_health_events_insert ON webhooks.webhook_health;
DROP FUNCTION webhooks.webhook_health_events();
DROP FUNCTION webhooks.webhook_event_payload(webhooks.webhooks);
DROP FUNCTION webhooks.capture_webhook_event(text, text, text, jsonb);
DROP FUNCTION webhooks.utc_ms(timestamptz);
DROP FUNCTION webhooks.is_admin(text, text);
-- Events about webhooks still queued or kept would match no subscription.
DELETE FROM webhooks.capture_queue WHERE resource_type IN ('webhook', 'message');
ALTER TABLE webhooks.webhooks DROP COLUMN failing_notified_at;
ALTER TABLE webhooks.tracked_tables DROP CONSTRAINT tracked_tables_resource_type_reserved;
