-- Webhook subscriptions, their signing secrets, and API keys.

-- webhooks belong to the user who created them: what they receive is what
-- that user may read, judged at expansion.
CREATE TABLE webhooks.webhooks (
    id text PRIMARY KEY DEFAULT webhooks.gen_id(),
    workspace_id text NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    created_by text NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    -- Event types, "*" or "<resource>.*"; kept as given, so that a wildcard
    -- also matches types tracked later.
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    description text NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at timestamptz,
    rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (enabled = (disabled_at IS NULL))
);
CREATE INDEX webhooks_workspace_id_idx ON webhooks.webhooks (workspace_id, created_at, id);
CREATE INDEX webhooks_created_by_idx ON webhooks.webhooks (created_by);

-- signing_secrets is apart from webhooks so that nothing that reads
-- webhooks (views, the reader role) can reach a secret by accident. After a
-- rotation the previous secret signs too, until it expires.
CREATE TABLE webhooks.signing_secrets (
    webhook_id text PRIMARY KEY REFERENCES webhooks.webhooks (id) ON DELETE CASCADE,
    secret text NOT NULL,
    previous_secret text,
    previous_expires_at timestamptz,
    rotated_at timestamptz,
    CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL))
);

-- api_keys keeps only a SHA-256 of each key: keys are 32 random bytes, so a
-- plain hash is enough to make a stolen table useless.
CREATE TABLE webhooks.api_keys (
    id text PRIMARY KEY DEFAULT webhooks.gen_id(),
    workspace_id text NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    name text NOT NULL DEFAULT '',
    key_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user_id_idx ON webhooks.api_keys (user_id);
