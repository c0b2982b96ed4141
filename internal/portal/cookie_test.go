package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
)

// signIn uses a one-time link as the page's button does, with the headers
// given (name, value, ...), and returns the Set-Cookie of the answer.
func signIn(t *testing.T, s *site, link string, headers ...string) *http.Cookie {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("POST", s.url+"/portal/start", strings.NewReader(url.Values{"token": {u.Query().Get("token")}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
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
	// The link is under WEBHOOKS_PUBLIC_URL whatever the request's Host
	// and X-Forwarded-Proto say.
	link := makeLink(t, s, "Host", "evil.example", "X-Forwarded-Proto", "http")
	require.True(t, strings.HasPrefix(link, "https://hooks.example.com/portal/start?token="), link)

	c := signIn(t, s, link, "X-Forwarded-Proto", "http")
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
	// X-Forwarded-Proto is not believed: a proxy's https is said by
	// WEBHOOKS_PUBLIC_URL, which serve requires beyond loopback.
	link := makeLink(t, s, "X-Forwarded-Proto", "https")
	require.True(t, strings.HasPrefix(link, s.url+"/portal/start?token="), link)
	c := signIn(t, s, link, "X-Forwarded-Proto", "https")
	require.Equal(t, "webhooks_session", c.Name)
	require.False(t, c.Secure)
	require.Equal(t, "/", c.Path)
	require.Equal(t, http.StatusOK, get(t, s, "/portal/", "webhooks_session="+c.Value))
	require.Equal(t, http.StatusOK, get(t, s, "/v1/webhooks", "webhooks_session="+c.Value))
	require.Equal(t, http.StatusUnauthorized, get(t, s, "/portal/", "__Host-webhooks_session="+c.Value))
}

// makeLink asks for a link to the page with the owner's key and the
// headers given (name, value, ...; "Host" sets the request's host).
func makeLink(t *testing.T, s *site, headers ...string) string {
	t.Helper()
	req, err := http.NewRequest("POST", s.url+"/v1/portal/sessions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.keys["owner"])
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var body struct{ URL string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return body.URL
}
