-- Transparent capture: triggers on tracked tables write every top-level change
-- into webhooks.outbox in the writer's own transaction.

CREATE SCHEMA webhooks;

-- gen_id returns 24 URL-safe random characters (138 random bits), the shape
-- of the spec's ids. The webhooks schema has its own so that a host
-- application needs nothing of the reference schema.
CREATE FUNCTION webhooks.gen_id() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN translate(encode(uuid_send(gen_random_uuid()) || substring(uuid_send(gen_random_uuid()) FROM 1 FOR 2), 'base64'), '+/', '-_');

-- tracked_tables lists what webhooks.track registered. The capture triggers
-- get the same settings as arguments, so capturing reads nothing from here.
CREATE TABLE webhooks.tracked_tables (
    table_name regclass PRIMARY KEY,
    resource_type text NOT NULL UNIQUE CHECK (resource_type ~ '^[a-z][a-z0-9_]*$'),
    key_column text NOT NULL,
    exclude_columns text[] NOT NULL DEFAULT '{}',
    ignore_columns text[] NOT NULL DEFAULT '{}',
    tracked_at timestamptz NOT NULL DEFAULT now()
);

-- outbox holds one row per captured change. payload is the row image (the
-- new row for created and updated, the old row for deleted), less excluded
-- columns, as row_to_json gives it: json, not jsonb, because row_to_json
-- costs half of to_jsonb on every write of the app, and it keeps the table's
-- column order. previous_attributes, for updates only, holds the old values
-- of the columns that changed. Both keep the table's column names:
-- webhooks.payload turns them into what a receiver gets. The scope of the
-- role check (created_by, visibility, team_id) is read from payload at
-- expansion, off the app's write path, rather than copied into columns here.
CREATE TABLE webhooks.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text COLLATE "C",
    event_type text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    workspace_id text NOT NULL,
    actor text,
    payload json NOT NULL,
    previous_attributes jsonb,
    captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expanded_at timestamptz
);

-- event_id is the envelope's eventId, the same for every webhook that gets
-- the event. Expansion stamps it (webhooks.gen_id) when it claims the row,
-- once, in the same transaction: a random unique key costs the app's write
-- path a fifth of capture's time, and nothing reads it before expansion.
CREATE UNIQUE INDEX outbox_event_id_key ON webhooks.outbox (event_id) WHERE event_id IS NOT NULL;

-- The expander claims unexpanded rows in id order.
CREATE INDEX outbox_unexpanded_idx ON webhooks.outbox (id) WHERE expanded_at IS NULL;

-- capture is the one trigger function behind every tracked table. It runs
-- once per statement over the statement's transition tables, so a
-- 10,000-row statement is one INSERT … SELECT into the outbox, not 10,000
-- calls. Arguments: resource type, key column, excluded columns, ignored
-- columns (text[] literals; ignored includes excluded). Its variables are
-- prefixed v_ so that no column of a host table can clash with them.
--
-- Inserts and deletes of a table keyed on "id" with nothing excluded, the
-- common case, take the fast path: plain column references, no jsonb. PL/pgSQL
-- plans each statement once per trigger, so "t.id" binds to each table's own
-- columns. Other tables, and every update, go through jsonb.
--
-- PL/pgSQL caches plans; a plan cached after a few one-row updates would
-- nest loops over a 10,000-row statement's transition tables (minutes,
-- measured: 99 s). Without nested loops the joins hash whatever the counts.
-- The penalty cost of the one nested loop left (the lateral jsonb_each)
-- would then set off JIT compilation on every statement (400 ms): no JIT.
CREATE FUNCTION webhooks.capture() RETURNS trigger
LANGUAGE plpgsql
SET enable_nestloop = off
SET jit = off
AS $$
DECLARE
    v_type text := TG_ARGV[0];
    v_key text := TG_ARGV[1];
    v_excluded text[] := TG_ARGV[2]::text[];
    v_ignored text[] := TG_ARGV[3]::text[];
    v_fast boolean := v_key = 'id' AND v_excluded = '{}';
    v_actor text := nullif(current_setting('webhooks.actor', true), '');
    v_captured bigint;
BEGIN
    IF TG_OP = 'INSERT' AND v_fast THEN
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_new t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' AND v_fast THEN
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.deleted', v_type, t.id::text, t.workspace_id::text, v_actor, row_to_json(t)
        FROM webhooks_old t;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'INSERT' THEN
        -- Materialised so that each image is built once, not once per column read.
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_new t)
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.created', v_type, r.j ->> v_key, r.j ->> 'workspace_id', v_actor, r.j::json
        FROM r;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSIF TG_OP = 'DELETE' THEN
        WITH r AS MATERIALIZED (SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_old t)
        INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
        SELECT v_type || '.deleted', v_type, r.j ->> v_key, r.j ->> 'workspace_id', v_actor, r.j::json
        FROM r;
        GET DIAGNOSTICS v_captured = ROW_COUNT;
    ELSE
        -- Old and new rows pair up on the key. An update that changes only
        -- ignored columns, or nothing at all, has no previous attributes and
        -- is no event. A row whose key changed pairs with nothing: its old
        -- key's resource is deleted and its new key's created. The payload
        -- keeps row_to_json's column order.
        WITH n AS MATERIALIZED (
            SELECT to_jsonb(t) - v_excluded AS j, t AS r FROM webhooks_new t
        ), o AS MATERIALIZED (
            SELECT to_jsonb(t) - v_excluded AS j FROM webhooks_old t
        ), updated AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload, previous_attributes)
            SELECT v_type || '.updated', v_type, n.j ->> v_key, n.j ->> 'workspace_id', v_actor,
                CASE WHEN v_excluded = '{}' THEN row_to_json(n.r) ELSE n.j::json END, changed.previous
            FROM n
            JOIN o ON o.j ->> v_key = n.j ->> v_key
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(e.key, e.value) AS previous
                FROM jsonb_each(o.j) e
                WHERE e.key <> ALL (v_ignored) AND e.value IS DISTINCT FROM n.j -> e.key
            ) changed
            WHERE changed.previous IS NOT NULL
            RETURNING 1
        ), deleted AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
            SELECT v_type || '.deleted', v_type, o.j ->> v_key, o.j ->> 'workspace_id', v_actor, o.j::json
            FROM o WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.j ->> v_key = o.j ->> v_key)
            RETURNING 1
        ), created AS (
            INSERT INTO webhooks.outbox (event_type, resource_type, resource_id, workspace_id, actor, payload)
            SELECT v_type || '.created', v_type, n.j ->> v_key, n.j ->> 'workspace_id', v_actor,
                CASE WHEN v_excluded = '{}' THEN row_to_json(n.r) ELSE n.j::json END
            FROM n WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.j ->> v_key = n.j ->> v_key)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM deleted) + (SELECT count(*) FROM created)
        INTO v_captured;
    END IF;
    -- Identical notifications of one transaction are delivered once, at commit.
    IF v_captured > 0 THEN
        PERFORM pg_notify('webhooks_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

-- refuse_truncate stops TRUNCATE of a tracked table: it removes rows without
-- a trace a trigger could turn into deleted events, so subscribers would keep
-- resources that no longer exist. DELETE captures them; to truncate anyway,
-- ALTER TABLE … DISABLE TRIGGER webhooks_refuse_truncate first.
CREATE FUNCTION webhooks.refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'webhooks: TRUNCATE of % is refused: it would delete rows without sending %.deleted events', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Use DELETE so subscribers are told, or ALTER TABLE ' || quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME) || ' DISABLE TRIGGER webhooks_refuse_truncate to truncate silently.';
END
$$;

-- track registers a table for capture, or changes its settings: one statement,
-- e.g. SELECT webhooks.track('public.investments', 'investment'). The table
-- needs a single-column primary key and a workspace_id column. exclude_columns
-- never appear in payloads (nor count as changes); a change of ignore_columns
-- alone is not an update.
CREATE FUNCTION webhooks.track(
    table_name regclass,
    resource_type text,
    exclude_columns text[] DEFAULT '{}',
    ignore_columns text[] DEFAULT '{updated_at}'
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    key_columns text[];
    missing text[];
    args text;
BEGIN
    IF resource_type IS NULL OR resource_type !~ '^[a-z][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'webhooks.track: resource type % must be lower case letters, digits and underscores, starting with a letter', quote_nullable(resource_type)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(a.attname ORDER BY a.attnum) INTO key_columns
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indrelid = table_name AND i.indisprimary;
    IF coalesce(array_length(key_columns, 1), 0) <> 1 THEN
        RAISE EXCEPTION 'webhooks.track: % needs a single-column primary key to identify resources', table_name
            USING ERRCODE = 'invalid_table_definition';
    END IF;
    SELECT array_agg(c) INTO missing
    FROM unnest(array['workspace_id'] || exclude_columns || ignore_columns) c
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = table_name AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'webhooks.track: % has no column %', table_name, array_to_string(missing, ', ')
            USING ERRCODE = 'undefined_column';
    END IF;
    -- Expansion reads the key and the scope from the row image: leaving them
    -- out would lose events, or show private rows to everyone.
    SELECT array_agg(c) INTO missing
    FROM unnest(exclude_columns) c
    WHERE c = ANY (array[key_columns[1], 'workspace_id', 'created_by', 'visibility', 'team_id']);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'webhooks.track: % cannot be excluded: role scoping and event ids need them', array_to_string(missing, ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO webhooks.tracked_tables AS t (table_name, resource_type, key_column, exclude_columns, ignore_columns)
    VALUES (table_name, resource_type, key_columns[1], exclude_columns, ignore_columns)
    ON CONFLICT ON CONSTRAINT tracked_tables_pkey DO UPDATE
    SET resource_type = excluded.resource_type, key_column = excluded.key_column,
        exclude_columns = excluded.exclude_columns, ignore_columns = excluded.ignore_columns, tracked_at = now();

    args := format('%L, %L, %L, %L', resource_type, key_columns[1], exclude_columns, exclude_columns || ignore_columns);
    PERFORM webhooks.drop_triggers(table_name);
    EXECUTE format('CREATE TRIGGER webhooks_capture_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS webhooks_new FOR EACH STATEMENT EXECUTE FUNCTION webhooks.capture(%s)', table_name, args);
    EXECUTE format('CREATE TRIGGER webhooks_capture_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS webhooks_old NEW TABLE AS webhooks_new FOR EACH STATEMENT EXECUTE FUNCTION webhooks.capture(%s)', table_name, args);
    EXECUTE format('CREATE TRIGGER webhooks_capture_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS webhooks_old FOR EACH STATEMENT EXECUTE FUNCTION webhooks.capture(%s)', table_name, args);
    EXECUTE format('CREATE TRIGGER webhooks_refuse_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION webhooks.refuse_truncate(%L)', table_name, resource_type);
END
$$;

CREATE FUNCTION webhooks.drop_triggers(table_name regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text;
BEGIN
    FOR name IN
        SELECT tgname FROM pg_trigger
        WHERE tgrelid = table_name
          AND tgname IN ('webhooks_capture_insert', 'webhooks_capture_update', 'webhooks_capture_delete', 'webhooks_refuse_truncate')
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', name, table_name);
    END LOOP;
END
$$;

-- untrack stops capturing a table. Events already in the outbox stay.
CREATE FUNCTION webhooks.untrack(table_name regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhooks.drop_triggers(table_name);
    DELETE FROM webhooks.tracked_tables t WHERE t.table_name = untrack.table_name;
END
$$;

-- camel_case turns a column name into a payload key: ticker_symbol → tickerSymbol.
CREATE FUNCTION webhooks.camel_case(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    SELECT string_agg(CASE WHEN p.n = 1 THEN p.part ELSE upper(left(p.part, 1)) || substr(p.part, 2) END, '' ORDER BY p.n)
    FROM unnest(string_to_array(name, '_')) WITH ORDINALITY AS p (part, n)
);

-- payload turns a captured row image into what a receiver gets: keys in
-- lowerCamelCase, timestamps as RFC 3339 UTC with milliseconds
-- ("2024-08-24T15:26:19.628Z"), every other JSON type as it is, keys in the
-- table's column order. Column types come from the tracked table's catalog,
-- so a text column that merely looks like a timestamp is left alone.
CREATE FUNCTION webhooks.payload(resource_type text, image json) RETURNS json
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN (
    SELECT coalesce(json_object_agg(webhooks.camel_case(e.key),
        CASE
            WHEN a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype) AND json_typeof(e.value) = 'string'
            THEN coalesce(to_json(to_char(
                CASE WHEN a.atttypid = 'timestamptz'::regtype THEN (e.value #>> '{}')::timestamptz AT TIME ZONE 'UTC' ELSE (e.value #>> '{}')::timestamp END,
                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), e.value)
            ELSE e.value
        END ORDER BY e.n), '{}'::json)
    FROM json_each(image) WITH ORDINALITY AS e (key, value, n)
    LEFT JOIN webhooks.tracked_tables t ON t.resource_type = payload.resource_type
    LEFT JOIN pg_attribute a ON a.attrelid = t.table_name AND a.attname = e.key AND a.attnum > 0 AND NOT a.attisdropped
);

-- The platform's resources.
SELECT webhooks.track('public.investments', 'investment');
SELECT webhooks.track('public.valuations', 'valuation');
SELECT webhooks.track('public.memos', 'memo');
SELECT webhooks.track('public.teams', 'team');
SELECT webhooks.track('public.assumptions', 'assumption');
SELECT webhooks.track('public.pipelines', 'pipeline');
