// Package portal serves the Webhooks page: the spec's Settings → Developers
// → Webhooks section, for one user of one workspace, opened by the host app
// through a one-time link (POST /v1/portal/sessions, `webhooks portal`).
//
// The document is rendered here with html/template; what it shows and
// changes goes through the management API under /v1 with the session's
// cookie, so the page follows the API's rules by construction: a guest is
// told they may not manage webhooks, a member sees only their own, another
// workspace's objects do not exist. Its script and styles are embedded
// files, and every response forbids inline script.
//
// It imports auth; the API it calls is over HTTP.
package portal

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

var templates = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// contentSecurityPolicy allows the page's own script, styles and API calls,
// and nothing else: no inline script, no framing, no foreign form targets.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Config is what the page needs.
type Config struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// PublicURL is where browsers reach the server (WEBHOOKS_PUBLIC_URL):
	// its scheme decides whether the session cookie is Secure and named
	// with the __Host- prefix (auth.Secure).
	PublicURL string
}

// Handler serves the page under /portal/.
type Handler struct {
	config Config
}

// New returns the page's handler.
func New(config Config) *Handler {
	if config.Logger == nil {
		config.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{config: config}
}

// Register adds the page's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	assets, _ := fs.Sub(assetFiles, "assets")
	files := http.StripPrefix("/portal/assets/", http.FileServerFS(assets))
	mux.Handle("GET /portal/assets/", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // revalidated: a new build's script is used at once
		files.ServeHTTP(w, r)
	})))
	// Browsers ask for /favicon.ico whatever the page says; both get the
	// page's icon rather than a 404 in every console.
	mux.Handle("GET /favicon.ico", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=86400")
		http.ServeFileFS(w, r, assets, "favicon.svg")
	})))
	mux.Handle("GET "+auth.PortalStartPath, secure(http.HandlerFunc(h.ask)))
	mux.Handle("POST "+auth.PortalStartPath, secure(http.HandlerFunc(h.start)))
	mux.Handle("GET /portal/{$}", secure(http.HandlerFunc(h.page)))
	mux.Handle("POST /portal/logout", secure(http.HandlerFunc(h.logout)))
	mux.Handle("GET "+signedOutPath, secure(http.HandlerFunc(h.signedOut)))
	mux.Handle("/portal/", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.message(w, http.StatusNotFound, "Not found", "There is no such page. Open the Webhooks page from the app.")
	})))
}

// secure sets the headers every response of the page carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := w.Header()
		header.Set("Content-Security-Policy", contentSecurityPolicy)
		header.Set("X-Content-Type-Options", "nosniff")
		header.Set("Referrer-Policy", "no-referrer") // the start link's token stays out of Referer
		header.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// ask shows whom a one-time link signs in, with a button that uses it.
// Opening a link only asks: a GET that signed in would let any site sign a
// visitor into someone else's session (login CSRF), and link scanners and
// previews, which fetch links, would use them up.
func (h *Handler) ask(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token := r.URL.Query().Get("token")
	if token == "" {
		h.linkRefused(w, r, nil)
		return
	}
	viewer, err := auth.PeekPortalLink(r.Context(), h.config.Pool, token)
	if errors.Is(err, auth.ErrPortalLinkInvalid) {
		// A used link opened again in a browser that is signed in (Back
		// after signing in, a second tab) leads on to the page.
		if _, ok, serr := auth.PortalViewer(r.Context(), h.config.Pool, r, h.secure(r)); serr == nil && ok {
			http.Redirect(w, r, "/portal/", http.StatusSeeOther)
			return
		}
	}
	if err != nil {
		h.linkRefused(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "start.html", struct {
		Viewer auth.Viewer
		Token  string
	}{viewer, token})
}

// start uses a one-time link, posted from ask's page (cross-origin
// protection refuses it from anywhere else): it sets the session cookie and
// moves on to the page.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("token")
	if token == "" {
		h.linkRefused(w, r, nil)
		return
	}
	session, expires, err := auth.RedeemPortalLink(r.Context(), h.config.Pool, token)
	if err != nil {
		h.linkRefused(w, r, err)
		return
	}
	// No Domain, Path=/: what the __Host- prefix asks, over HTTPS.
	secure := h.secure(r)
	http.SetCookie(w, &http.Cookie{
		Name: auth.SessionCookieName(secure), Value: session, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure,
	})
	// The redirect follows a navigation of this origin's page, so the
	// SameSite=Strict cookie goes along.
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

// linkRefused answers a link that cannot be used: without a token (err
// nil), expired or used, or not looked up for an error of ours.
func (h *Handler) linkRefused(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case err == nil:
		h.message(w, http.StatusBadRequest, "Link incomplete", "This link to the Webhooks page has no token. Open the page again from the app.")
	case errors.Is(err, auth.ErrPortalLinkInvalid):
		h.message(w, http.StatusGone, "Link expired", "This link to the Webhooks page has expired or was already used. Open the page again from the app.")
	default:
		h.internalError(w, r, err)
	}
}

// page is the Webhooks page of the session's user.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	viewer, ok, err := auth.PortalViewer(r.Context(), h.config.Pool, r, h.secure(r))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if !ok {
		h.message(w, http.StatusUnauthorized, "Signed out", "Your session of the Webhooks page has ended. Open the page again from the app.")
		return
	}
	if viewer.Role == "" {
		h.message(w, http.StatusForbidden, "Not a member", "You are no longer a member of this workspace.")
		return
	}
	h.render(w, http.StatusOK, "page.html", struct {
		Viewer    auth.Viewer
		MayManage bool
	}{viewer, auth.MayManageWebhooks(viewer.Role)})
}

// logout ends the session and its cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	secure := h.secure(r)
	if c, err := r.Cookie(auth.SessionCookieName(secure)); err == nil {
		if err := auth.EndPortalSession(r.Context(), h.config.Pool, c.Value); err != nil {
			h.internalError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: auth.SessionCookieName(secure), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure,
	})
	// Redirected, so that reloading the answer does not post again.
	http.Redirect(w, r, signedOutPath, http.StatusSeeOther)
}

// signedOutPath is where signing out leads.
const signedOutPath = "/portal/signed-out"

func (h *Handler) signedOut(w http.ResponseWriter, r *http.Request) {
	h.message(w, http.StatusOK, "Signed out", "You have signed out of the Webhooks page.")
}

func (h *Handler) message(w http.ResponseWriter, status int, title, text string) {
	h.render(w, status, "message.html", struct{ Title, Text string }{title, text})
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		h.config.Logger.Error("error rendering the Webhooks page", "template", name, "error", err)
		http.Error(w, "internal error; it has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.config.Logger.ErrorContext(r.Context(), "error serving the Webhooks page", "method", r.Method, "path", r.URL.Path, "error", err)
	h.message(w, http.StatusInternalServerError, "Something went wrong", "The error has been logged. Try again in a moment.")
}

// secure says whether browsers reach us over HTTPS (auth.Secure).
func (h *Handler) secure(r *http.Request) bool {
	return auth.Secure(h.config.PublicURL, r)
}
