-- name: TrackedTableList :many
SELECT table_name::text AS table_name, resource_type, key_column, exclude_columns, ignore_columns, tracked_at
FROM webhooks.tracked_tables
ORDER BY resource_type;

-- name: TrackedColumnList :many
-- TrackedColumnList lists the columns of tracked tables that receivers get
-- (all but the excluded), in table order, as the catalog says now: their
-- type, whether they may be null, and whether tracking ignores them (a
-- change to ignored columns alone is no event).
SELECT t.resource_type, a.attname::text AS column_name, format_type(a.atttypid, a.atttypmod)::text AS data_type,
    a.attnotnull AS not_null, (a.attname::text = ANY (t.ignore_columns))::boolean AS ignored
FROM webhooks.tracked_tables t
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.table_name AND a.attnum > 0 AND NOT a.attisdropped
WHERE a.attname::text <> ALL (t.exclude_columns)
ORDER BY t.resource_type, a.attnum;
