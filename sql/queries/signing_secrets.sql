-- name: SigningSecretInsert :exec
INSERT INTO webhooks.signing_secrets (webhook_id, secret) VALUES (@webhook_id, @secret);

-- name: SigningSecretGet :one
-- SigningSecretGet returns a webhook's secrets. The previous one signs only
-- until previous_expires_at; callers check.
SELECT * FROM webhooks.signing_secrets WHERE webhook_id = @webhook_id;

-- name: SigningSecretRotate :one
-- SigningSecretRotate makes secret current; the current one keeps signing
-- until previous_expires_at.
UPDATE webhooks.signing_secrets
SET previous_secret = secret, previous_expires_at = @previous_expires_at, secret = @secret, rotated_at = now()
WHERE webhook_id = @webhook_id
RETURNING *;
