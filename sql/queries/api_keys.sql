-- name: APIKeyInsert :one
INSERT INTO webhooks.api_keys (workspace_id, user_id, name, key_hash)
VALUES (@workspace_id, @user_id, @name, @key_hash)
RETURNING id, workspace_id, user_id, name, created_at, last_used_at, revoked_at;

-- name: APIKeyAuthenticate :one
-- APIKeyAuthenticate finds the key with this hash and returns it with its
-- user's current role in the workspace ('' when no longer a member). It
-- notes the use at most once a minute, so that reads do not each write.
WITH k AS (
    SELECT x.id, x.workspace_id, x.user_id, x.revoked_at, x.last_used_at FROM webhooks.api_keys x WHERE x.key_hash = @key_hash
), used AS (
    UPDATE webhooks.api_keys a SET last_used_at = now()
    FROM k
    WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
)
SELECT k.id, k.workspace_id, k.user_id, k.revoked_at,
    coalesce((SELECT m.role FROM public.workspace_members m WHERE m.workspace_id = k.workspace_id AND m.user_id = k.user_id), '')::text AS role
FROM k;

-- name: APIKeyRevoke :execrows
UPDATE webhooks.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = @id;
