SELECT webhooks.untrack(table_name) FROM webhooks.tracked_tables;
DROP SCHEMA webhooks CASCADE;
