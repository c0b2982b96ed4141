package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// signIn uses a one-time link as the page's button does and returns the
// Set-Cookie of the answer.
func signIn(t *testing.T, s *site, link string) *http.Cookie {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(s.url+"/portal/start", url.Values{"token": {u.Query().Get("token")}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	cookies := res.Cookies()
	require.Len(t, cookies, 1)
	return cookies[0]
}

// get is a GET with a Cookie header as given; it returns the status.
func get(t *testing.T, s *site, path, cookie string) int {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// TestSessionCookieOverHTTPS: where WEBHOOKS_PUBLIC_URL is https, the
// session cookie is __Host-webhooks_session, Secure, Path=/ and without
// Domain, and only that name is read: a plain webhooks_session, which
// anyone able to set a cookie for the site could plant, is not.
func TestSessionCookieOverHTTPS(t *testing.T) {
	s := startSiteConfig(t, nil, api.Config{PublicURL: "https://hooks.example.com"})
	status, body := s.call(t, s.keys["owner"], "POST", "/v1/portal/sessions", nil)
	require.Equal(t, http.StatusCreated, status, body)
	link := body["url"].(string)
	require.True(t, strings.HasPrefix(link, "https://hooks.example.com/portal/start?token="), link)

	c := signIn(t, s, link)
	require.Equal(t, "__Host-webhooks_session", c.Name)
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, "/", c.Path)
	require.Empty(t, c.Domain)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)

	require.Equal(t, http.StatusOK, get(t, s, "/portal/", "__Host-webhooks_session="+c.Value))
	require.Equal(t, http.StatusOK, get(t, s, "/v1/webhooks", "__Host-webhooks_session="+c.Value))
	require.Equal(t, http.StatusUnauthorized, get(t, s, "/portal/", "webhooks_session="+c.Value))
	require.Equal(t, http.StatusUnauthorized, get(t, s, "/v1/webhooks", "webhooks_session="+c.Value))

	// Signing out clears the same cookie.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("POST", s.url+"/portal/logout", nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", "__Host-webhooks_session="+c.Value)
	res, err := client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Len(t, res.Cookies(), 1)
	require.Equal(t, "__Host-webhooks_session", res.Cookies()[0].Name)
	require.True(t, res.Cookies()[0].Secure)
	require.Equal(t, http.StatusUnauthorized, get(t, s, "/portal/", "__Host-webhooks_session="+c.Value), "the session ended")
}

// TestSessionCookieOverHTTP: on plain http (loopback, in development) the
// cookie is webhooks_session, not Secure (a browser would drop a Secure
// cookie of an http page, and a __Host- one with it).
func TestSessionCookieOverHTTP(t *testing.T) {
	s := startSite(t)
	c := signIn(t, s, s.link(t, "owner"))
	require.Equal(t, "webhooks_session", c.Name)
	require.False(t, c.Secure)
	require.Equal(t, "/", c.Path)
	require.Equal(t, http.StatusOK, get(t, s, "/portal/", "webhooks_session="+c.Value))
	require.Equal(t, http.StatusOK, get(t, s, "/v1/webhooks", "webhooks_session="+c.Value))
	require.Equal(t, http.StatusUnauthorized, get(t, s, "/portal/", "__Host-webhooks_session="+c.Value))
}
