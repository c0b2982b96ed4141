-- portal_sessions backs the Webhooks page. The host app asks for a one-time
-- link (POST /v1/portal/sessions, or `webhooks portal`); opening it redeems
-- the link and starts a session kept in a cookie. Only SHA-256 hashes of the
-- link and session tokens are stored: both are 32 random bytes.
CREATE TABLE webhooks.portal_sessions (
    id text PRIMARY KEY DEFAULT webhooks.gen_id(),
    workspace_id text NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES public.users (id) ON DELETE CASCADE,
    -- The API key that asked for the link, if any: revoking it ends the
    -- sessions it started.
    api_key_id text REFERENCES webhooks.api_keys (id) ON DELETE CASCADE,
    link_hash bytea NOT NULL,
    link_expires_at timestamptz NOT NULL,
    session_hash bytea,
    redeemed_at timestamptz,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT portal_sessions_link_hash_key UNIQUE (link_hash),
    CONSTRAINT portal_sessions_session_hash_key UNIQUE (session_hash),
    CONSTRAINT portal_sessions_redeemed CHECK ((redeemed_at IS NULL) = (session_hash IS NULL) AND (redeemed_at IS NULL) = (expires_at IS NULL))
);
CREATE INDEX portal_sessions_expiry_idx ON webhooks.portal_sessions (coalesce(expires_at, link_expires_at));
CREATE INDEX portal_sessions_user_id_idx ON webhooks.portal_sessions (user_id);
CREATE INDEX portal_sessions_api_key_id_idx ON webhooks.portal_sessions (api_key_id);

-- Lists of webhooks sum up their last day of attempts: with succeeded in the
-- index that is an index-only scan, not a heap read per attempt.
CREATE INDEX delivery_attempts_webhook_health_idx ON webhooks.delivery_attempts (webhook_id, started_at) INCLUDE (succeeded);
DROP INDEX webhooks.delivery_attempts_webhook_id_idx;
