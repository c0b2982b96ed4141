-- The reference application: the platform's own tables, shipped so the webhook
-- pipeline runs and is tested end to end. A host application with its own tables
-- registers them for capture instead.

-- gen_id returns 24 URL-safe random characters, the shape of the spec's ids:
-- 18 bytes, 138 of them random bits, from gen_random_uuid (core since
-- PostgreSQL 13, so no extension is needed, and cheap enough for a default).
CREATE FUNCTION gen_id() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN translate(encode(uuid_send(gen_random_uuid()) || substring(uuid_send(gen_random_uuid()) FROM 1 FOR 2), 'base64'), '+/', '-_');

CREATE TABLE workspaces (
    id text PRIMARY KEY DEFAULT gen_id(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id text PRIMARY KEY DEFAULT gen_id(),
    email text NOT NULL UNIQUE,
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_id_idx ON workspace_members (user_id);

CREATE TABLE teams (
    id text PRIMARY KEY DEFAULT gen_id(),
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_workspace_id_idx ON teams (workspace_id);

CREATE TABLE team_members (
    team_id text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

-- Columns in the order of the spec's payload example; the scope columns
-- (workspace, creator, team) follow.
CREATE TABLE investments (
    id text PRIMARY KEY DEFAULT gen_id(),
    ticker_symbol text,
    name text NOT NULL,
    description text,
    address text,
    country text,
    cik text,
    lei text,
    figi text,
    founding_date text,
    ipo_date text,
    headquarters text,
    ceo text,
    employees integer,
    exchange text,
    industry text,
    sector text,
    issuance text,
    website text,
    tags text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    edited_name text,
    financing_type text,
    market_type text,
    type text,
    visibility text NOT NULL DEFAULT 'Workspace' CHECK (visibility IN ('Private', 'Team', 'Workspace')),
    is_favorite boolean NOT NULL DEFAULT false,
    is_locked boolean NOT NULL DEFAULT false,
    is_archived boolean NOT NULL DEFAULT false,
    banner_image text,
    clearbit jsonb,
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES users (id),
    team_id text REFERENCES teams (id) ON DELETE SET NULL
);
CREATE INDEX investments_workspace_id_idx ON investments (workspace_id);
CREATE INDEX investments_created_by_idx ON investments (created_by);
CREATE INDEX investments_team_id_idx ON investments (team_id);

CREATE TABLE valuations (
    id text PRIMARY KEY DEFAULT gen_id(),
    investment_id text NOT NULL REFERENCES investments (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    method text,
    currency text,
    value numeric,
    valued_on date,
    data jsonb,
    visibility text NOT NULL DEFAULT 'Workspace' CHECK (visibility IN ('Private', 'Team', 'Workspace')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES users (id),
    team_id text REFERENCES teams (id) ON DELETE SET NULL
);
CREATE INDEX valuations_workspace_id_idx ON valuations (workspace_id);
CREATE INDEX valuations_investment_id_idx ON valuations (investment_id);
CREATE INDEX valuations_created_by_idx ON valuations (created_by);
CREATE INDEX valuations_team_id_idx ON valuations (team_id);

CREATE TABLE memos (
    id text PRIMARY KEY DEFAULT gen_id(),
    investment_id text NOT NULL REFERENCES investments (id) ON DELETE CASCADE,
    title text NOT NULL,
    body text,
    tags text[] NOT NULL DEFAULT '{}',
    is_pinned boolean NOT NULL DEFAULT false,
    visibility text NOT NULL DEFAULT 'Workspace' CHECK (visibility IN ('Private', 'Team', 'Workspace')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES users (id),
    team_id text REFERENCES teams (id) ON DELETE SET NULL
);
CREATE INDEX memos_workspace_id_idx ON memos (workspace_id);
CREATE INDEX memos_investment_id_idx ON memos (investment_id);
CREATE INDEX memos_created_by_idx ON memos (created_by);
CREATE INDEX memos_team_id_idx ON memos (team_id);

CREATE TABLE assumptions (
    id text PRIMARY KEY DEFAULT gen_id(),
    valuation_id text NOT NULL REFERENCES valuations (id) ON DELETE CASCADE,
    name text NOT NULL,
    value numeric,
    unit text,
    notes text,
    visibility text NOT NULL DEFAULT 'Workspace' CHECK (visibility IN ('Private', 'Team', 'Workspace')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES users (id),
    team_id text REFERENCES teams (id) ON DELETE SET NULL
);
CREATE INDEX assumptions_workspace_id_idx ON assumptions (workspace_id);
CREATE INDEX assumptions_valuation_id_idx ON assumptions (valuation_id);
CREATE INDEX assumptions_created_by_idx ON assumptions (created_by);
CREATE INDEX assumptions_team_id_idx ON assumptions (team_id);

CREATE TABLE pipelines (
    id text PRIMARY KEY DEFAULT gen_id(),
    name text NOT NULL,
    description text,
    stages text[] NOT NULL DEFAULT '{}',
    is_archived boolean NOT NULL DEFAULT false,
    visibility text NOT NULL DEFAULT 'Workspace' CHECK (visibility IN ('Private', 'Team', 'Workspace')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES users (id),
    team_id text REFERENCES teams (id) ON DELETE SET NULL
);
CREATE INDEX pipelines_workspace_id_idx ON pipelines (workspace_id);
CREATE INDEX pipelines_created_by_idx ON pipelines (created_by);
CREATE INDEX pipelines_team_id_idx ON pipelines (team_id);
