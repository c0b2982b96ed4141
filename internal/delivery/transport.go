package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/webhook"
)

// UserAgent names the sender to receivers.
const UserAgent = "countercyclical-webhooks/0.1"

// Limits of what is read of an answer.
const (
	maxResponseRead = 64 << 10
	maxResponseKept = 4 << 10
	maxRetryAfter   = time.Hour
)

// GuardedTransport dials only addresses the policy allows, checked on the
// address actually dialled, after DNS, so that a name resolving to an
// internal address (DNS rebinding included) cannot slip through. It uses no
// proxy, which would dial for it.
func guardedTransport(policy netguard.Policy, connectTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{
		Timeout: connectTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			addr, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			return policy.CheckAddr(addr)
		},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   connectTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the client's Timeout bounds the whole request
		ForceAttemptHTTP2:     true,
	}
}

// Result is what one attempt came to.
type Result struct {
	Endpoint     string // scheme and host, for logs
	Started      time.Time
	Duration     time.Duration
	StatusCode   *int32
	ErrorClass   *string
	ErrorMessage *string
	Excerpt      *string
	RetryAfter   time.Duration
}

// OK says whether the endpoint took the message.
func (r Result) OK() bool { return r.ErrorClass == nil }

// LogAttrs describe a failed attempt for the log: the endpoint's scheme and
// host, the error class and status, and the error where it cannot quote a
// URL (a redirect's names its Location, a bad URL's the URL itself).
func (r Result) LogAttrs() []any {
	attrs := []any{"endpoint", r.Endpoint}
	if r.ErrorClass != nil {
		attrs = append(attrs, "error_class", *r.ErrorClass)
		switch *r.ErrorClass {
		case ErrorConnection, ErrorTimeout, ErrorBlocked, ErrorStatus:
			attrs = append(attrs, "error", *r.ErrorMessage)
		}
	}
	if r.StatusCode != nil {
		attrs = append(attrs, "status_code", *r.StatusCode)
	}
	return attrs
}

func (r *Result) fail(class, message string) {
	message = storable(message)
	r.ErrorClass, r.ErrorMessage = &class, &message
}

// storable makes text PostgreSQL can store: valid UTF-8, no NUL, which an
// endpoint's answer may well contain.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func (d *Deliverer) send(ctx context.Context, endpoint, msgID string, secrets []string, body []byte) (r Result) {
	r.Started = time.Now()
	defer func() { r.Duration = time.Since(r.Started) }() // r is the named result: the caller sees this

	timestamp := time.Now()
	var signatures []string
	for _, secret := range secrets {
		sig, err := webhook.Sign(secret, msgID, timestamp, body)
		if err != nil {
			r.fail(ErrorInvalidSecret, "the webhook's secret is unusable: "+err.Error())
			return r
		}
		signatures = append(signatures, sig)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(string(body)))
	if err != nil {
		r.fail(ErrorInvalidURL, err.Error())
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(webhook.HeaderID, msgID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, strings.Join(signatures, " "))

	resp, err := d.client.Do(req)
	if err != nil {
		// Not the url.Error itself: it quotes the URL, which may carry the
		// receiver's token, into logs and River UI.
		cause := err
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			cause = urlErr.Err
		}
		switch {
		case errors.Is(err, netguard.ErrBlocked):
			r.fail(ErrorBlocked, cause.Error())
		case urlErr != nil && urlErr.Timeout():
			r.fail(ErrorTimeout, fmt.Sprintf("no answer within %s", d.config.Timeout))
		default:
			r.fail(ErrorConnection, cause.Error())
		}
		return r
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	code := int32(resp.StatusCode)
	r.StatusCode = &code
	if len(data) > 0 {
		kept := storable(string(data[:min(len(data), maxResponseKept)]))
		r.Excerpt = &kept
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.fail(ErrorRedirect, fmt.Sprintf("answered %d (redirect to %q, not followed)", resp.StatusCode, resp.Header.Get("Location")))
	default:
		r.fail(ErrorStatus, fmt.Sprintf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r
}

// parseRetryAfter reads seconds or an HTTP date, bounded to [1s, 1h]; zero
// when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, time.Second), maxRetryAfter)
}

// Endpoint is where a URL leads, scheme and host (as webhooks.endpoint in
// SQL): never its path or query, where receivers often keep a token.
func Endpoint(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}
