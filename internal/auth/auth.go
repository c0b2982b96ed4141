// Package auth is who may do what: API keys, the Webhooks page's one-time
// links and sessions, signing secrets, and the rule of roles both the API
// and the page apply. Keys, links and sessions are 32 random bytes, stored
// only as their SHA-256. It imports db and webhook.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/countercyclical/webhooks/webhook"
)

// Hash is how API keys, links and session tokens are stored: their
// SHA-256. They are 32 random bytes, so a stolen table is of no use and no
// slow hash is needed.
func Hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// newToken returns 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSecret returns a fresh signing secret: whsec_ and 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// MayManageWebhooks says whether a member of role may see and manage
// webhooks, their secrets and their logs: every role but guest. What a
// webhook then receives is what its creator's role may read.
func MayManageWebhooks(role string) bool { return role != "guest" }
