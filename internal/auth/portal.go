package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
)

// The Webhooks page is opened through a one-time link that starts a
// session kept in a cookie; the page then calls the API with that cookie,
// so it acts under exactly the rules an API key of the same user would.
const (
	// SessionCookie names the page's session cookie over plain http (on
	// loopback, in development).
	SessionCookie = "webhooks_session"
	// SecureSessionCookie names it over HTTPS. Browsers keep a __Host-
	// cookie only when it is Secure, for Path=/ and without Domain: no
	// other subdomain of the site, nor a page of plain http, can set one
	// in its place (a session of the attacker's, to see what is typed).
	SecureSessionCookie = "__Host-" + SessionCookie
	// PortalLinkTTL is how long a link may wait to be opened.
	PortalLinkTTL = 5 * time.Minute
	// PortalSessionTTL is how long a session lasts, from the link's opening.
	PortalSessionTTL = 8 * time.Hour
	// PortalStartPath is where a link leads; its token is the query's.
	PortalStartPath = "/portal/start"
)

// ErrPortalLinkInvalid is what opening an unknown, used or expired link gives.
var ErrPortalLinkInvalid = errors.New("this link to the Webhooks page is not valid: it has expired or was already used; open the page again from the app")

// PortalLink is a one-time link to the Webhooks page.
type PortalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"-"`
}

// CreatePortalLink makes a one-time link to the Webhooks page, under
// baseURL, for a user of a workspace. apiKeyID, when not nil, is the key
// that asked: revoking it ends the session too.
func CreatePortalLink(ctx context.Context, q db.DBTX, baseURL, workspaceID, userID string, apiKeyID *string) (PortalLink, error) {
	_, err := db.New().WorkspaceMemberGetRole(ctx, q, db.WorkspaceMemberGetRoleParams{WorkspaceID: workspaceID, UserID: userID})
	if errors.Is(err, pgx.ErrNoRows) {
		return PortalLink{}, fmt.Errorf("%w: user %q in workspace %q", ErrNotMember, userID, workspaceID)
	}
	if err != nil {
		return PortalLink{}, fmt.Errorf("error looking up membership: %w", err)
	}
	token := newToken()
	expires, err := db.New().PortalLinkInsert(ctx, q, db.PortalLinkInsertParams{
		WorkspaceID: workspaceID, UserID: userID, ApiKeyID: apiKeyID,
		LinkHash: Hash(token), TtlSeconds: PortalLinkTTL.Seconds(),
	})
	if err != nil {
		return PortalLink{}, fmt.Errorf("error creating portal link: %w", err)
	}
	return PortalLink{
		URL:       strings.TrimSuffix(baseURL, "/") + PortalStartPath + "?token=" + url.QueryEscape(token),
		ExpiresAt: expires,
	}, nil
}

// PeekPortalLink says whom a usable link is for, without using it;
// ErrPortalLinkInvalid when it cannot be used.
func PeekPortalLink(ctx context.Context, q db.DBTX, token string) (Viewer, error) {
	row, err := db.New().PortalLinkPeek(ctx, q, Hash(token))
	if errors.Is(err, pgx.ErrNoRows) {
		return Viewer{}, ErrPortalLinkInvalid
	}
	if err != nil {
		return Viewer{}, fmt.Errorf("error reading portal link: %w", err)
	}
	return Viewer{Email: row.Email, WorkspaceName: row.WorkspaceName}, nil
}

// RedeemPortalLink opens a link, once, and returns the session's token and
// its expiry; ErrPortalLinkInvalid when the link cannot be used.
func RedeemPortalLink(ctx context.Context, q db.DBTX, token string) (string, time.Time, error) {
	session := newToken()
	expires, err := db.New().PortalLinkRedeem(ctx, q, db.PortalLinkRedeemParams{
		LinkHash: Hash(token), SessionHash: Hash(session), TtlSeconds: PortalSessionTTL.Seconds(),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, ErrPortalLinkInvalid
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("error opening portal link: %w", err)
	}
	return session, expires, nil
}

// EndPortalSession signs a session out.
func EndPortalSession(ctx context.Context, q db.DBTX, session string) error {
	if _, err := db.New().PortalSessionEnd(ctx, q, Hash(session)); err != nil {
		return fmt.Errorf("error ending portal session: %w", err)
	}
	return nil
}

// Viewer is who a live session is for, as the page shows it.
type Viewer struct {
	UserID, Email, WorkspaceID, WorkspaceName, Role string
}

// SessionCookieName is the session cookie's name where browsers reach the
// server over HTTPS (secure) or not. Reading takes that name alone: over
// HTTPS a cookie without the prefix may have been set by someone else.
func SessionCookieName(secure bool) string {
	if secure {
		return SecureSessionCookie
	}
	return SessionCookie
}

// Secure says whether browsers reach the server over HTTPS: as publicURL
// (WEBHOOKS_PUBLIC_URL) says when set, else whether the request came over
// TLS here. X-Forwarded-Proto is not believed: whoever reaches the server
// directly could send it. serve needs WEBHOOKS_PUBLIC_URL beyond loopback,
// so behind a proxy it is set. The session cookie is then Secure and
// __Host-.
func Secure(publicURL string, r *http.Request) bool {
	if publicURL != "" {
		return strings.HasPrefix(strings.ToLower(publicURL), "https://")
	}
	return r.TLS != nil
}

// PortalViewer returns the viewer of the request's session cookie (named
// as SessionCookieName(secure) says), or false when there is no live
// session.
func PortalViewer(ctx context.Context, q db.DBTX, r *http.Request, secure bool) (Viewer, bool, error) {
	c, err := r.Cookie(SessionCookieName(secure))
	if err != nil || c.Value == "" {
		return Viewer{}, false, nil
	}
	row, err := db.New().PortalSessionAuthenticate(ctx, q, Hash(c.Value))
	if errors.Is(err, pgx.ErrNoRows) {
		return Viewer{}, false, nil
	}
	if err != nil {
		return Viewer{}, false, fmt.Errorf("error authenticating portal session: %w", err)
	}
	return Viewer{UserID: row.UserID, Email: row.Email, WorkspaceID: row.WorkspaceID, WorkspaceName: row.WorkspaceName, Role: row.Role}, true, nil
}
