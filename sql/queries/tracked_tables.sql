-- name: TrackedTableList :many
SELECT table_name::text AS table_name, resource_type, key_column, exclude_columns, ignore_columns, tracked_at
FROM webhooks.tracked_tables
ORDER BY resource_type;
