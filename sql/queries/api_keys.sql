-- name: APIKeyInsert :one
INSERT INTO webhooks.api_keys (workspace_id, user_id, name, key_hash)
VALUES (@workspace_id, @user_id, @name, @key_hash)
RETURNING id, workspace_id, user_id, name, created_at, last_used_at, revoked_at;

-- name: APIKeyAuthenticate :one
-- APIKeyAuthenticate finds the key with this hash, notes its use, and returns
-- it with its user's current role in the workspace ('' when no longer a
-- member).
UPDATE webhooks.api_keys k
SET last_used_at = now()
WHERE key_hash = @key_hash
RETURNING k.id, k.workspace_id, k.user_id, k.revoked_at,
    coalesce((SELECT m.role FROM public.workspace_members m WHERE m.workspace_id = k.workspace_id AND m.user_id = k.user_id), '')::text AS role;

-- name: APIKeyRevoke :execrows
UPDATE webhooks.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = @id;
