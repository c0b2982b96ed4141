// Package api is the management REST API: webhooks, their secrets and the
// event-type catalogue, under /v1, authenticated by API keys and scoped by
// the caller's role in their workspace. Every error is an RFC 9457 problem.
//
// It imports jobs (to insert River jobs), auth, delivery, expansion, filter,
// netguard, db and webhook.
package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/delivery"
	"github.com/countercyclical/webhooks/internal/netguard"
)

// DefaultSecretGrace is how long a rotated-out secret keeps signing.
const DefaultSecretGrace = 24 * time.Hour

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// Config is what the API needs.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Policy decides which endpoint URLs are acceptable.
	Policy netguard.Policy
	// SecretGrace is how long a rotated-out secret stays valid
	// (default DefaultSecretGrace).
	SecretGrace time.Duration
	// River inserts delivery jobs (test, retry, recover); MaxAttempts is
	// theirs (default 1 + the default schedule).
	River       *river.Client[pgx.Tx]
	MaxAttempts int
	// PublicURL is where browsers reach this server, for links to the
	// Webhooks page (default: the scheme and Host of the request).
	PublicURL string
	// MaxWebhooksPerWorkspace is how many webhooks a workspace may have
	// (default DefaultMaxWebhooksPerWorkspace); creating one more is
	// refused with 422.
	MaxWebhooksPerWorkspace int
	// TestSendsPerMinute is how many test sends a workspace may make in
	// any minute (default DefaultTestSendsPerMinute); more are refused with
	// 429 and Retry-After. They are counted in this process.
	TestSendsPerMinute int
}

// Server serves the API.
type Server struct {
	config    Config
	queries   *db.Queries
	testSends *window
}

// route is one endpoint; the list is the API, and the OpenAPI test checks
// the document against it.
type route struct {
	method, pattern string
	handler         func(*Server, http.ResponseWriter, *http.Request)
	public          bool // served without an API key
}

var routes = []route{
	{"GET", "/v1/openapi.json", (*Server).openAPI, true},
	{"GET", "/v1/event-types", (*Server).eventTypes, false},
	{"GET", "/v1/event-types/{type}", (*Server).eventTypeDetail, false},
	{"POST", "/v1/webhooks", (*Server).createWebhook, false},
	{"GET", "/v1/webhooks", (*Server).listWebhooks, false},
	{"GET", "/v1/webhooks/{id}", (*Server).getWebhook, false},
	{"PATCH", "/v1/webhooks/{id}", (*Server).updateWebhook, false},
	{"DELETE", "/v1/webhooks/{id}", (*Server).deleteWebhook, false},
	{"GET", "/v1/webhooks/{id}/secret", (*Server).getSecret, false},
	{"POST", "/v1/webhooks/{id}/secret/rotate", (*Server).rotateSecret, false},
	{"POST", "/v1/webhooks/{id}/enable", (*Server).enableWebhook, false},
	{"POST", "/v1/webhooks/{id}/disable", (*Server).disableWebhook, false},
	{"POST", "/v1/webhooks/{id}/test", (*Server).testWebhook, false},
	{"GET", "/v1/webhooks/{id}/deliveries", (*Server).listDeliveries, false},
	{"GET", "/v1/webhooks/{id}/stats", (*Server).webhookStats, false},
	{"POST", "/v1/webhooks/{id}/recover", (*Server).recoverWebhook, false},
	{"GET", "/v1/messages/{id}", (*Server).getMessage, false},
	{"POST", "/v1/messages/{id}/retry", (*Server).retryMessage, false},
	{"POST", "/v1/messages/{id}/skip", (*Server).skipMessage, false},
	{"POST", "/v1/webhooks/{id}/replay", (*Server).replayWebhook, false},
	{"GET", "/v1/webhooks/{id}/replays", (*Server).listReplays, false},
	{"GET", "/v1/replays/{id}", (*Server).getReplay, false},
	{"POST", "/v1/replays/{id}/cancel", (*Server).cancelReplay, false},
	{"POST", "/v1/portal/sessions", (*Server).createPortalSession, false},
}

// New returns the API server.
func New(config Config) *Server {
	config.SecretGrace = cmp.Or(config.SecretGrace, DefaultSecretGrace)
	config.MaxAttempts = cmp.Or(config.MaxAttempts, delivery.Config{}.MaxAttempts())
	config.MaxWebhooksPerWorkspace = cmp.Or(config.MaxWebhooksPerWorkspace, DefaultMaxWebhooksPerWorkspace)
	config.TestSendsPerMinute = cmp.Or(config.TestSendsPerMinute, DefaultTestSendsPerMinute)
	if config.Logger == nil {
		config.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{config: config, queries: db.New(), testSends: newWindow(config.TestSendsPerMinute, time.Minute)}
}

// Register adds the API's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for _, r := range routes {
		handler := r.handler
		// Every route's path and query are judged first (input.go), before
		// authentication: neither needs the database for that.
		if r.public {
			mux.HandleFunc(r.method+" "+r.pattern, headers(judgeInput(r.pattern, func(w http.ResponseWriter, req *http.Request) { handler(s, w, req) })))
			continue
		}
		mux.HandleFunc(r.method+" "+r.pattern, headers(judgeInput(r.pattern, func(w http.ResponseWriter, req *http.Request) {
			p, ok := s.authenticate(w, req)
			if !ok {
				return
			}
			handler(s, w, req.WithContext(context.WithValue(req.Context(), principalKey{}, p)))
		})))
	}
	// Anything else under /v1 is a problem too, not the mux's plain text.
	mux.HandleFunc("/v1/", headers(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, http.StatusNotFound, "no such route: "+req.Method+" "+req.URL.Path)
	}))
}

// headers sets what every answer under /v1 carries. Answers hold secrets
// (signing secrets, payloads, links that sign in), which no cache, shared
// or the browser's, may keep; and they are JSON, which no browser may sniff
// as anything else.
func headers(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		next(w, r)
	}
}

// principal is the caller: an API key's user, with their role now.
type principal struct {
	KeyID, UserID, WorkspaceID, Role string
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal { return ctx.Value(principalKey{}).(principal) }

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (principal, bool) {
	header := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(header, " ")
	if header == "" && hasCookie(r, auth.SessionCookieName(auth.Secure(s.config.PublicURL, r))) {
		return s.authenticateSession(w, r)
	}
	if header == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhooks"`)
		writeProblem(w, http.StatusUnauthorized, "missing Authorization header: send `Authorization: Bearer <API key>`")
		return principal{}, false
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhooks"`)
		writeProblem(w, http.StatusUnauthorized, "Authorization header must be `Bearer <API key>`")
		return principal{}, false
	}
	row, err := s.queries.APIKeyAuthenticate(r.Context(), s.config.Pool, auth.Hash(strings.TrimSpace(key)))
	if errors.Is(err, pgx.ErrNoRows) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhooks", error="invalid_token"`)
		writeProblem(w, http.StatusUnauthorized, "API key not recognised")
		return principal{}, false
	}
	if err != nil {
		s.internalError(w, r, "error authenticating API key", err)
		return principal{}, false
	}
	if row.RevokedAt != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhooks", error="invalid_token"`)
		writeProblem(w, http.StatusUnauthorized, "API key revoked")
		return principal{}, false
	}
	if row.Role == "" {
		writeProblem(w, http.StatusForbidden, "the API key's user is no longer a member of its workspace")
		return principal{}, false
	}
	return principal{KeyID: row.ID, UserID: row.UserID, WorkspaceID: row.WorkspaceID, Role: row.Role}, true
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

func (s *Server) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	s.config.Logger.ErrorContext(r.Context(), msg, "method", r.Method, "path", r.URL.Path, "error", err)
	writeProblem(w, http.StatusInternalServerError, "internal error; it has been logged")
}

// Routes lists the API's routes as "METHOD /pattern".
func Routes() []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.method+" "+r.pattern)
	}
	return out
}
