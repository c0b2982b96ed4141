package webhook_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/webhook"
)

// The reference vector of the Standard Webhooks test suites (DESIGN.md).
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refBody      = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func refHeader(signature string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, refID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(refTimestamp))
	h.Set(webhook.HeaderSignature, signature)
	return h
}

func atRef() time.Time { return time.Unix(refTimestamp, 0) }

func TestSignReferenceVector(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign(refSecret, refID, time.Unix(refTimestamp, 0), []byte(refBody))
	require.NoError(t, err)
	require.Equal(t, refSignature, got)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	other := "whsec_" + "c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=" // base64("secret-of-another-endpoint")
	verifier := webhook.Verifier{Secrets: []string{refSecret}, Now: atRef}

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, verifier.Verify(refHeader(refSignature), []byte(refBody)))
	})
	t.Run("ValidWithoutPrefix", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{refSecret[len("whsec_"):]}, Now: atRef}
		require.NoError(t, v.Verify(refHeader(refSignature), []byte(refBody)))
	})
	t.Run("TamperedBody", func(t *testing.T) {
		t.Parallel()
		err := verifier.Verify(refHeader(refSignature), []byte(`{"test": 2432232315}`))
		require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
	})
	t.Run("TamperedID", func(t *testing.T) {
		t.Parallel()
		h := refHeader(refSignature)
		h.Set(webhook.HeaderID, "msg_other")
		require.ErrorIs(t, verifier.Verify(h, []byte(refBody)), webhook.ErrNoMatchingSignature)
	})
	t.Run("WrongSecret", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{other}, Now: atRef}
		require.ErrorIs(t, v.Verify(refHeader(refSignature), []byte(refBody)), webhook.ErrNoMatchingSignature)
	})
	t.Run("TooOld", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{refSecret}, Now: func() time.Time { return atRef().Add(5*time.Minute + time.Second) }}
		err := v.Verify(refHeader(refSignature), []byte(refBody))
		require.ErrorIs(t, err, webhook.ErrTimestampTooOld)
		require.ErrorContains(t, err, "sent 5m1s ago, tolerance 5m0s")
	})
	t.Run("WithinTolerance", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{refSecret}, Now: func() time.Time { return atRef().Add(5 * time.Minute) }}
		require.NoError(t, v.Verify(refHeader(refSignature), []byte(refBody)))
	})
	t.Run("CustomTolerance", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{refSecret}, Tolerance: time.Second, Now: func() time.Time { return atRef().Add(2 * time.Second) }}
		require.ErrorIs(t, v.Verify(refHeader(refSignature), []byte(refBody)), webhook.ErrTimestampTooOld)
	})
	t.Run("FromTheFuture", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{refSecret}, Now: func() time.Time { return atRef().Add(-time.Hour) }}
		require.ErrorIs(t, v.Verify(refHeader(refSignature), []byte(refBody)), webhook.ErrTimestampTooNew)
	})
	t.Run("BadTimestamp", func(t *testing.T) {
		t.Parallel()
		h := refHeader(refSignature)
		h.Set(webhook.HeaderTimestamp, "2021-02-25T15:02:10Z")
		require.ErrorIs(t, verifier.Verify(h, []byte(refBody)), webhook.ErrInvalidTimestamp)
	})
	t.Run("MissingHeaders", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
			h := refHeader(refSignature)
			h.Del(name)
			err := verifier.Verify(h, []byte(refBody))
			require.ErrorIs(t, err, webhook.ErrMissingHeader)
			require.ErrorContains(t, err, name)
		}
	})
	t.Run("BadSecret", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{"whsec_not base64!"}, Now: atRef}
		require.ErrorIs(t, v.Verify(refHeader(refSignature), []byte(refBody)), webhook.ErrInvalidSecret)
		_, err := webhook.Sign("whsec_", refID, atRef(), nil)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret)
	})
	t.Run("SenderRotation", func(t *testing.T) {
		t.Parallel()
		// While a rotated secret is valid the sender signs with both.
		newSig, err := webhook.Sign(other, refID, atRef(), []byte(refBody))
		require.NoError(t, err)
		both := refHeader(newSig + " " + refSignature)
		require.NoError(t, verifier.Verify(both, []byte(refBody)), "old secret still verifies")
		v := webhook.Verifier{Secrets: []string{other}, Now: atRef}
		require.NoError(t, v.Verify(both, []byte(refBody)), "new secret verifies")
	})
	t.Run("ReceiverRotation", func(t *testing.T) {
		t.Parallel()
		v := webhook.Verifier{Secrets: []string{other, refSecret}, Now: atRef}
		require.NoError(t, v.Verify(refHeader(refSignature), []byte(refBody)))
	})
	t.Run("OtherSchemesIgnored", func(t *testing.T) {
		t.Parallel()
		h := refHeader("v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,xxx v1,%%%")
		require.ErrorIs(t, verifier.Verify(h, []byte(refBody)), webhook.ErrNoMatchingSignature)
	})
}

func TestVerifyPackageFunctionUsesNow(t *testing.T) {
	t.Parallel()
	// The reference vector is from 2021: far outside the default tolerance.
	require.ErrorIs(t, webhook.Verify(refSecret, refHeader(refSignature), []byte(refBody)), webhook.ErrTimestampTooOld)

	now := time.Now()
	sig, err := webhook.Sign(refSecret, refID, now, []byte(refBody))
	require.NoError(t, err)
	h := refHeader(sig)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	require.NoError(t, webhook.Verify(refSecret, h, []byte(refBody)))
}
