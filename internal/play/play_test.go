package play_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/countercyclical/webhooks/internal/play"
	"github.com/countercyclical/webhooks/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// syncBuffer collects log lines written while requests are served.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type bundle struct {
	server   *httptest.Server
	receiver *play.Receiver
	log      *syncBuffer
}

func setup(t *testing.T, config play.Config) *bundle {
	t.Helper()
	log := &syncBuffer{}
	config.Log = log
	receiver := play.New(config)
	server := httptest.NewServer(receiver)
	t.Cleanup(server.Close)
	return &bundle{server, receiver, log}
}

// send posts a signed envelope as the sender would and returns the answer.
func send(t *testing.T, url, msgID, signWith string, body string) *http.Response {
	t.Helper()
	now := time.Now()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderID, msgID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if signWith != "" {
		sig, err := webhook.Sign(signWith, msgID, now, []byte(body))
		require.NoError(t, err)
		req.Header.Set(webhook.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const envelope = `{"id":"msg_1","eventId":"evt_1","eventType":"investment.updated","payload":{"name":"Coca-Cola Co"}}`

func TestReceiveVerified(t *testing.T) {
	t.Parallel()
	b := setup(t, play.Config{Secrets: []string{secret}})

	resp := send(t, b.server.URL+"/hooks/acme?x=1", "msg_1", secret, envelope)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = send(t, b.server.URL+"/hooks/acme", "msg_1", secret, envelope)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a duplicate is still answered 200")
	resp = send(t, b.server.URL+"/", "msg_2", "whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=", envelope)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	deliveries, total := b.receiver.Deliveries()
	require.EqualValues(t, 3, total)
	require.Len(t, deliveries, 3)
	first := deliveries[2]
	require.Equal(t, "/hooks/acme?x=1", first.Path)
	require.Equal(t, "investment.updated", first.EventType)
	require.Equal(t, "evt_1", first.EventID)
	require.Equal(t, "msg_1", first.WebhookID)
	require.True(t, *first.Verified)
	require.False(t, first.Duplicate)
	require.Equal(t, envelope, first.Body)
	require.Equal(t, "application/json", first.Headers["content-type"])
	require.True(t, deliveries[1].Duplicate)
	require.False(t, *deliveries[0].Verified)
	require.Contains(t, deliveries[0].VerifyError, "no matching signature")

	lines := strings.Split(strings.TrimSpace(b.log.String()), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} 200 POST /hooks/acme\?x=1 type=investment.updated webhook-id=msg_1 event-id=evt_1 verified$`, lines[0])
	require.True(t, strings.HasSuffix(lines[1], "verified duplicate of an earlier webhook-id"), lines[1])
	require.Contains(t, lines[2], " 401 POST / ")
	require.Contains(t, lines[2], "NOT VERIFIED: webhook: no matching signature")
}

func TestReceiveWithoutSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, play.Config{})
	resp := send(t, b.server.URL+"/x", "msg_1", "", "not json at all")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	deliveries, _ := b.receiver.Deliveries()
	require.Nil(t, deliveries[0].Verified)
	require.Equal(t, "not json at all", deliveries[0].Body)
	require.Contains(t, b.log.String(), "type=- webhook-id=msg_1 event-id=- unverified (no --secret)")
}

func TestFaultInjection(t *testing.T) {
	t.Parallel()

	t.Run("Status", func(t *testing.T) {
		t.Parallel()
		b := setup(t, play.Config{FailRate: 1, FailStatus: http.StatusServiceUnavailable, RetryAfter: 10})
		req, _ := http.NewRequest(http.MethodPost, b.server.URL+"/", strings.NewReader(envelope))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "10", resp.Header.Get("Retry-After"))
	})

	t.Run("FailRate", func(t *testing.T) {
		t.Parallel()
		// A fixed sequence of draws: below the rate fails, at or above succeeds.
		draws := []float64{0.1, 0.5, 0.29, 0.3, 0.9}
		var mu sync.Mutex
		b := setup(t, play.Config{FailRate: 0.3, Rand: func() float64 {
			mu.Lock()
			defer mu.Unlock()
			d := draws[0]
			draws = draws[1:]
			return d
		}})
		var got []int
		for i := range 5 {
			got = append(got, send(t, b.server.URL+"/", "msg_"+strconv.Itoa(i), "", envelope).StatusCode)
		}
		require.Equal(t, []int{500, 200, 500, 200, 200}, got)
	})

	t.Run("Gone", func(t *testing.T) {
		t.Parallel()
		b := setup(t, play.Config{Gone: true})
		require.Equal(t, http.StatusGone, send(t, b.server.URL+"/", "msg_1", "", envelope).StatusCode)
	})

	t.Run("Delay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, play.Config{Delay: time.Hour})
		// A sender that gives up first gets no answer, and nothing is recorded.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.server.URL+"/", strings.NewReader(envelope))
		_, err := http.DefaultClient.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		b.server.CloseClientConnections()
		_, total := b.receiver.Deliveries()
		require.Zero(t, total)
	})

	t.Run("DelayAnswers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, play.Config{Delay: 50 * time.Millisecond})
		start := time.Now()
		require.Equal(t, http.StatusOK, send(t, b.server.URL+"/", "msg_1", "", envelope).StatusCode)
		require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	})
}

func TestKeepsBoundedMemory(t *testing.T) {
	t.Parallel()
	b := setup(t, play.Config{Keep: 3})
	for i := range 10 {
		send(t, b.server.URL+"/", "msg_"+strconv.Itoa(i), "", envelope)
	}
	deliveries, total := b.receiver.Deliveries()
	require.EqualValues(t, 10, total)
	require.Len(t, deliveries, 3)
	require.EqualValues(t, 10, deliveries[0].Seq, "newest first")
	require.EqualValues(t, 8, deliveries[2].Seq)
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, play.Config{})
	resp := send(t, b.server.URL+"/", "msg_1", "", strings.Repeat("x", play.MaxBody+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestListAndPage(t *testing.T) {
	t.Parallel()
	b := setup(t, play.Config{Secrets: []string{secret}})
	send(t, b.server.URL+"/hooks", "msg_1", secret, envelope)

	resp, err := http.Get(b.server.URL + "/api/deliveries")
	require.NoError(t, err)
	var list struct {
		Total      int64           `json:"total"`
		Deliveries []play.Delivery `json:"deliveries"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.EqualValues(t, 1, list.Total)
	require.Equal(t, "msg_1", list.Deliveries[0].WebhookID)

	resp, err = http.Get(b.server.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	html := string(page)
	require.Contains(t, html, "1 received")
	require.Contains(t, html, "#1 investment.updated")
	require.Contains(t, html, "signature verified")
	require.Contains(t, html, "<code>msg_1</code>")
	require.Contains(t, html, "&#34;name&#34;: &#34;Coca-Cola Co&#34;", "the body is pretty-printed")
	require.Contains(t, html, "webhook-signature")

	resp, err = http.Get(b.server.URL + "/elsewhere")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "only POST delivers")
	http.DefaultClient.CloseIdleConnections()
}
