-- name: TrackedTableList :many
SELECT table_name::text AS table_name, resource_type, key_column, exclude_columns, ignore_columns, tracked_at
FROM webhooks.tracked_tables
ORDER BY resource_type;

-- name: TrackedColumnList :many
-- TrackedColumnList lists the columns of tracked tables that receivers get
-- (all but the excluded), in table order, as the catalog says now: their
-- type (a domain's base type; an array's element type and dimensions),
-- whether they may be null, and whether tracking ignores them (a change to
-- ignored columns alone is no event).
SELECT t.resource_type, a.attname::text AS column_name, format_type(a.atttypid, a.atttypmod)::text AS data_type,
    a.attnotnull AS not_null, (a.attname::text = ANY (t.ignore_columns))::boolean AS ignored,
    b.typname::text AS base_type, b.typcategory::text AS category,
    coalesce(e.typname, '')::text AS element_type, coalesce(e.typcategory, '')::text AS element_category
FROM webhooks.tracked_tables t
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.table_name AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE ty.oid END
LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
WHERE a.attname::text <> ALL (t.exclude_columns)
ORDER BY t.resource_type, a.attnum;
