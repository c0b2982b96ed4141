ALTER TABLE webhooks.webhooks DROP COLUMN filter, DROP COLUMN changed_columns;
