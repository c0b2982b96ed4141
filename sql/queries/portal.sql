-- name: PortalLinkInsert :one
INSERT INTO webhooks.portal_sessions (workspace_id, user_id, api_key_id, link_hash, link_expires_at)
VALUES (@workspace_id, @user_id, @api_key_id, @link_hash, now() + make_interval(secs => @ttl_seconds::float8))
RETURNING link_expires_at;

-- name: PortalLinkRedeem :one
-- PortalLinkRedeem turns an unexpired, unused link into a session: a link
-- opens one session, once.
UPDATE webhooks.portal_sessions
SET session_hash = @session_hash, redeemed_at = now(), expires_at = now() + make_interval(secs => @ttl_seconds::float8)
WHERE link_hash = @link_hash AND redeemed_at IS NULL AND link_expires_at > now()
RETURNING expires_at::timestamptz;

-- name: PortalSessionAuthenticate :one
-- PortalSessionAuthenticate finds a live session and its user's current
-- role in the workspace ('' when no longer a member), with what the page
-- shows of who is signed in.
SELECT s.id, s.workspace_id, s.user_id, s.api_key_id,
    coalesce((SELECT m.role FROM public.workspace_members m WHERE m.workspace_id = s.workspace_id AND m.user_id = s.user_id), '')::text AS role,
    u.email, w.name AS workspace_name
FROM webhooks.portal_sessions s
JOIN public.users u ON u.id = s.user_id
JOIN public.workspaces w ON w.id = s.workspace_id
LEFT JOIN webhooks.api_keys k ON k.id = s.api_key_id
WHERE s.session_hash = @session_hash AND s.expires_at > now() AND k.revoked_at IS NULL;

-- name: PortalSessionEnd :execrows
DELETE FROM webhooks.portal_sessions WHERE session_hash = @session_hash;

-- name: PortalSessionDeleteExpired :execrows
DELETE FROM webhooks.portal_sessions WHERE coalesce(expires_at, link_expires_at) < now() - interval '1 day';

-- name: PortalLinkPeek :one
-- PortalLinkPeek says whom an unexpired, unused link is for, without
-- using it: the page asks before it signs anyone in.
SELECT u.email, w.name AS workspace_name
FROM webhooks.portal_sessions s
JOIN public.users u ON u.id = s.user_id
JOIN public.workspaces w ON w.id = s.workspace_id
WHERE s.link_hash = @link_hash AND s.redeemed_at IS NULL AND s.link_expires_at > now();
