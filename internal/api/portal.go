package api

import (
	"net/http"

	"github.com/countercyclical/webhooks/internal/auth"
)

// authenticateSession is authenticate for a request of the page: it
// carries the session cookie instead of an API key.
func (s *Server) authenticateSession(w http.ResponseWriter, r *http.Request) (principal, bool) {
	v, ok, err := auth.PortalViewer(r.Context(), s.config.Pool, r, auth.Secure(s.config.PublicURL, r))
	if err != nil {
		s.internalError(w, r, "error authenticating portal session", err)
		return principal{}, false
	}
	if !ok {
		writeProblem(w, http.StatusUnauthorized, "your session of the Webhooks page has ended; open the page again from the app")
		return principal{}, false
	}
	if v.Role == "" {
		writeProblem(w, http.StatusForbidden, "you are no longer a member of this workspace")
		return principal{}, false
	}
	return principal{UserID: v.UserID, WorkspaceID: v.WorkspaceID, Role: v.Role}, true
}

// createPortalSession answers a one-time link to the Webhooks page for the
// API key's user, for the host app to send them to.
func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if p.KeyID == "" {
		writeProblem(w, http.StatusForbidden, "portal links are made with an API key, not from the page")
		return
	}
	raw, ok := readObject(w, r, true)
	if !ok {
		return
	}
	f := &fields{raw: raw}
	for name := range raw {
		f.fail(name, "unknown field; this request takes none")
	}
	if len(f.errors) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, "bad request; see errors", f.errors...)
		return
	}
	// Links lead under WEBHOOKS_PUBLIC_URL, never where a request's Host
	// or X-Forwarded-Proto says; without it (serve on loopback, tests) the
	// request's own host, which only a caller here can have sent.
	base := s.config.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	link, err := auth.CreatePortalLink(r.Context(), s.config.Pool, base, p.WorkspaceID, p.UserID, &p.KeyID)
	if err != nil {
		s.internalError(w, r, "error creating portal link", err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		URL       string   `json:"url"`
		ExpiresAt timeJSON `json:"expiresAt"`
	}{link.URL, timeJSON(link.ExpiresAt)})
}
