// Package webhook signs and verifies webhook messages the Standard Webhooks
// way (https://www.standardwebhooks.com): the signature is an HMAC-SHA256, keyed
// by the endpoint's secret, of "<webhook-id>.<webhook-timestamp>.<body>". The
// sender uses Sign; receivers written in Go import this package and call
// Verify.
//
// It imports nothing of this project: receivers import it.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret; the rest is the base64 of the key.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a message's timestamp may be from now, either
// way, before Verify rejects it as a replay (or a clock gone wrong).
const DefaultTolerance = 5 * time.Minute

// Errors of verification. Verify wraps them with the details.
var (
	ErrInvalidSecret       = errors.New("webhook: invalid secret")
	ErrMissingHeader       = errors.New("webhook: missing header")
	ErrInvalidTimestamp    = errors.New("webhook: invalid timestamp")
	ErrTimestampTooOld     = errors.New("webhook: timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook: timestamp too far in the future")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// DecodeSecret returns the key of a secret: the base64 after "whsec_" (the
// prefix may be left out).
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not whsec_ followed by base64: %v", ErrInvalidSecret, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// Sign returns the signature of a message, "v1,<base64>", for the
// webhook-signature header. With several secrets (during a rotation) join
// their signatures with spaces.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, timestamp.Unix(), body)), nil
}

func mac(key []byte, msgID string, timestamp int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(timestamp, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received message against secret with DefaultTolerance.
func Verify(secret string, header http.Header, body []byte) error {
	return Verifier{Secrets: []string{secret}}.Verify(header, body)
}

// Verifier checks received messages. The zero Tolerance means
// DefaultTolerance; Now defaults to time.Now.
type Verifier struct {
	// Secrets a signature may match: more than one while the receiver
	// rotates its own copy.
	Secrets   []string
	Tolerance time.Duration
	Now       func() time.Time
}

// Verify returns nil when the headers carry a fresh timestamp and at least
// one v1 signature of the body made with one of the secrets. Signatures are
// compared in constant time.
func (v Verifier) Verify(header http.Header, body []byte) error {
	msgID := header.Get(HeaderID)
	if msgID == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderID)
	}
	rawTimestamp := header.Get(HeaderTimestamp)
	if rawTimestamp == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderTimestamp)
	}
	signatures := header.Get(HeaderSignature)
	if signatures == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	timestamp, err := strconv.ParseInt(rawTimestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not unix seconds", ErrInvalidTimestamp, HeaderTimestamp, rawTimestamp)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	age := now().Sub(time.Unix(timestamp, 0))
	if age > tolerance {
		return fmt.Errorf("%w: sent %s ago, tolerance %s", ErrTimestampTooOld, age.Truncate(time.Second), tolerance)
	}
	if -age > tolerance {
		return fmt.Errorf("%w: sent %s from now, tolerance %s", ErrTimestampTooNew, (-age).Truncate(time.Second), tolerance)
	}

	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrInvalidSecret)
	}
	for _, secret := range v.Secrets {
		key, err := DecodeSecret(secret)
		if err != nil {
			return err
		}
		expected := mac(key, msgID, timestamp, body)
		for _, signature := range strings.Fields(signatures) {
			version, encoded, ok := strings.Cut(signature, ",")
			if !ok || version != "v1" {
				continue // other schemes, such as v1a, are not ours to check
			}
			got, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				continue
			}
			if hmac.Equal(got, expected) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}
