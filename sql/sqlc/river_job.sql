-- What sqlc needs to know of River's tables, which River's own migrator
-- creates (rivermigrate), not ours: only the columns our SQL reads. This
-- file is never applied to a database.
CREATE TABLE river_job (
    id bigint PRIMARY KEY,
    kind text NOT NULL,
    args jsonb NOT NULL,
    state text NOT NULL,
    scheduled_at timestamptz NOT NULL,
    errors jsonb[],
    attempt smallint NOT NULL,
    max_attempts smallint NOT NULL,
    queue text NOT NULL,
    finalized_at timestamptz
);
