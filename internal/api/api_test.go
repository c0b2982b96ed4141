package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/auth"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/netguard"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/webhook"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var roles = []string{"owner", "admin", "member", "guest"}

// workspace is a workspace with a user and an API key of each role.
type workspace struct {
	id    string
	users map[string]string // role → user id
	keys  map[string]string // role → API key
}

type testBundle struct {
	pool     *pgxpool.Pool
	url      string
	ws, ws2  workspace
	client   *http.Client
	policies netguard.Policy
}

func setup(t testing.TB, configs ...api.Config) *testBundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	config := api.Config{}
	if len(configs) > 0 {
		config = configs[0]
	}
	client, err := jobs.NewClient(pool, jobs.Config{})
	require.NoError(t, err)
	config.River = client
	srv := httptest.NewServer(newHandler(t, server.Config{Pool: pool, API: config}))
	t.Cleanup(srv.Close)
	b := &testBundle{pool: pool, url: srv.URL, client: srv.Client()}
	b.ws = newWorkspace(t, pool, "Acme")
	b.ws2 = newWorkspace(t, pool, "Globex")
	return b
}

func newHandler(t testing.TB, config server.Config) http.Handler {
	t.Helper()
	h, err := server.New(context.Background(), config)
	require.NoError(t, err)
	return h
}

func newWorkspace(t testing.TB, pool *pgxpool.Pool, name string) workspace {
	t.Helper()
	ctx := context.Background()
	w := workspace{id: dbtest.Workspace(t, pool, name), users: map[string]string{}, keys: map[string]string{}}
	for _, role := range roles {
		user := dbtest.Member(t, pool, w.id, role)
		key, _, _, err := auth.CreateAPIKey(ctx, pool, w.id, user, "test")
		require.NoError(t, err)
		w.users[role], w.keys[role] = user, key
	}
	return w
}

// email is the user's email, as people know them.
func email(t testing.TB, pool *pgxpool.Pool, userID string) string {
	t.Helper()
	var email string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`, userID).Scan(&email))
	return email
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

func (b *testBundle) do(t testing.TB, key, method, path string, body any) response {
	t.Helper()
	var reader io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(v)
	default:
		j, err := json.Marshal(v)
		require.NoError(t, err)
		reader = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.url+path, reader)
	require.NoError(t, err)
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode >= 400 {
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), "%s %s: %s", method, path, data)
	}
	return response{resp.StatusCode, resp.Header, data}
}

func validWebhook() map[string]any {
	return map[string]any{"name": "Acme CRM", "url": "https://example.com/hooks", "events": []string{"investment.created", "memo.*"}}
}

func (b *testBundle) create(t testing.TB, key string) map[string]any {
	t.Helper()
	res := b.do(t, key, "POST", "/v1/webhooks", validWebhook())
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	return res.json(t)
}

func TestEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, b.ws.keys["guest"], "GET", "/v1/event-types", nil)
	require.Equal(t, http.StatusOK, res.status)
	var body struct {
		Data []struct{ Name, Description string }
	}
	require.NoError(t, json.Unmarshal(res.body, &body))
	require.Len(t, body.Data, 22)
	names := map[string]string{}
	for _, e := range body.Data {
		names[e.Name] = e.Description
	}
	for _, resource := range []string{"investment", "valuation", "memo", "team", "assumption", "pipeline"} {
		for _, op := range []string{"created", "updated", "deleted"} {
			require.Contains(t, names, resource+"."+op)
		}
	}
	for _, name := range []string{"webhook.failing", "webhook.disabled", "webhook.recovered", "message.exhausted"} {
		require.Contains(t, names, name)
	}
	require.Equal(t, "Sent when an investment is updated.", names["investment.updated"])
}

func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["admin"]

	created := b.create(t, key)
	id := created["id"].(string)
	secret := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	_, err := webhook.DecodeSecret(secret)
	require.NoError(t, err)
	require.Equal(t, b.ws.id, created["workspaceId"])
	require.Equal(t, b.ws.users["admin"], created["createdBy"])
	require.Equal(t, true, created["enabled"])
	require.Equal(t, []any{"investment.created", "memo.*"}, created["events"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, created["createdAt"])

	res := b.do(t, key, "GET", "/v1/webhooks/"+id, nil)
	require.Equal(t, http.StatusOK, res.status)
	got := res.json(t)
	require.NotContains(t, got, "secret", "the secret is shown on create and on its own route only")
	require.Equal(t, "Acme CRM", got["name"])

	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, map[string]any{"name": "Renamed", "rateLimitPerSecond": 5, "description": "CRM sync"})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	got = res.json(t)
	require.Equal(t, "Renamed", got["name"])
	require.Equal(t, float64(5), got["rateLimitPerSecond"])
	require.Equal(t, "https://example.com/hooks", got["url"], "absent fields stay")

	res = b.do(t, key, "PATCH", "/v1/webhooks/"+id, map[string]any{"rateLimitPerSecond": nil, "description": nil})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	got = res.json(t)
	require.Nil(t, got["rateLimitPerSecond"], "null clears the limit")
	require.Equal(t, "", got["description"])

	res = b.do(t, key, "POST", "/v1/webhooks/"+id+"/disable", map[string]any{"reason": "maintenance"})
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	got = res.json(t)
	require.Equal(t, false, got["enabled"])
	require.Equal(t, "maintenance", got["disabledReason"])
	require.NotNil(t, got["disabledAt"])

	_, err = b.pool.Exec(context.Background(), `UPDATE webhooks.webhooks SET failing_since = now() - interval '6 days' WHERE id = $1`, id)
	require.NoError(t, err)
	res = b.do(t, key, "POST", "/v1/webhooks/"+id+"/enable", nil)
	require.Equal(t, http.StatusOK, res.status)
	var failingSince *time.Time
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT failing_since FROM webhooks.webhooks WHERE id = $1`, id).Scan(&failingSince))
	require.Nil(t, failingSince, "enabling starts the failure clock afresh")
	got = res.json(t)
	require.Equal(t, true, got["enabled"])
	require.Nil(t, got["disabledReason"])
	require.Nil(t, got["disabledAt"])

	res = b.do(t, key, "POST", "/v1/webhooks/"+id+"/disable", nil)
	require.Equal(t, http.StatusOK, res.status)
	email := email(t, b.pool, b.ws.users["admin"])
	require.Equal(t, "disabled by "+email, res.json(t)["disabledReason"], "who, as people know them: no name, so the email")
	_, err = b.pool.Exec(context.Background(), `UPDATE users SET name = 'Ada Admin' WHERE id = $1`, b.ws.users["admin"])
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(t, key, "POST", "/v1/webhooks/"+id+"/enable", nil).status)
	res = b.do(t, key, "POST", "/v1/webhooks/"+id+"/disable", nil)
	require.Equal(t, "disabled by Ada Admin", res.json(t)["disabledReason"])

	res = b.do(t, key, "DELETE", "/v1/webhooks/"+id, nil)
	require.Equal(t, http.StatusNoContent, res.status)
	res = b.do(t, key, "GET", "/v1/webhooks/"+id, nil)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Contains(t, string(res.body), `webhook \"`+id+`\" not found`)
	res = b.do(t, key, "DELETE", "/v1/webhooks/"+id, nil)
	require.Equal(t, http.StatusNotFound, res.status)
}

func TestSecretRotation(t *testing.T) {
	t.Parallel()

	t.Run("PreviousStaysForGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key := b.ws.keys["owner"]
		created := b.create(t, key)
		id, first := created["id"].(string), created["secret"].(string)

		res := b.do(t, key, "GET", "/v1/webhooks/"+id+"/secret", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, map[string]any{"secret": first, "previousSecret": nil, "previousExpiresAt": nil}, res.json(t))

		res = b.do(t, key, "POST", "/v1/webhooks/"+id+"/secret/rotate", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		rotated := res.json(t)
		require.NotEqual(t, first, rotated["secret"])
		require.Equal(t, first, rotated["previousSecret"])
		expires, err := time.Parse(time.RFC3339, rotated["previousExpiresAt"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), expires, time.Minute)

		res = b.do(t, key, "GET", "/v1/webhooks/"+id+"/secret", nil)
		require.Equal(t, rotated, res.json(t))
	})

	t.Run("PreviousExpires", func(t *testing.T) {
		t.Parallel()
		b := setup(t, api.Config{SecretGrace: time.Nanosecond})
		key := b.ws.keys["owner"]
		id := b.create(t, key)["id"].(string)
		res := b.do(t, key, "POST", "/v1/webhooks/"+id+"/secret/rotate", nil)
		require.Equal(t, http.StatusOK, res.status)
		res = b.do(t, key, "GET", "/v1/webhooks/"+id+"/secret", nil)
		require.Nil(t, res.json(t)["previousSecret"], "an expired previous secret is not shown")
	})
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := b.ws.keys["owner"]
	want := map[string]bool{}
	for range 5 {
		want[b.create(t, key)["id"].(string)] = true
	}
	b.create(t, b.ws2.keys["owner"]) // another workspace's: never listed

	seen := map[string]bool{}
	path := "/v1/webhooks?limit=2"
	pages := 0
	for {
		res := b.do(t, key, "GET", path, nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var page struct {
			Data       []map[string]any
			NextCursor *string
		}
		require.NoError(t, json.Unmarshal(res.body, &page))
		pages++
		for _, w := range page.Data {
			require.False(t, seen[w["id"].(string)], "listed twice")
			seen[w["id"].(string)] = true
		}
		if page.NextCursor == nil {
			break
		}
		path = "/v1/webhooks?limit=2&cursor=" + *page.NextCursor
	}
	require.Equal(t, 3, pages)
	require.Equal(t, want, seen)
}

func TestMembersListTheirOwn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := b.create(t, b.ws.keys["member"])["id"].(string)
	b.create(t, b.ws.keys["admin"])

	res := b.do(t, b.ws.keys["member"], "GET", "/v1/webhooks", nil)
	require.Equal(t, http.StatusOK, res.status)
	data := res.json(t)["data"].([]any)
	require.Len(t, data, 1)
	require.Equal(t, own, data[0].(map[string]any)["id"])

	res = b.do(t, b.ws.keys["admin"], "GET", "/v1/webhooks", nil)
	require.Len(t, res.json(t)["data"].([]any), 2)
}

// TestPermissionMatrix: every role, on its own and on someone else's
// webhook, of its own workspace and of another, on every webhook route.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Webhooks are made by members (owners and admins may manage those) and by
	// admins (members may not); guests cannot make any.
	byMember := map[string]string{}
	byAdmin := map[string]string{}
	for _, ws := range []workspace{b.ws, b.ws2} {
		byMember[ws.id] = b.create(t, ws.keys["member"])["id"].(string)
		byAdmin[ws.id] = b.create(t, ws.keys["admin"])["id"].(string)
	}
	ownByRole := map[string]string{
		"owner": b.create(t, b.ws.keys["owner"])["id"].(string),
		"admin": byAdmin[b.ws.id], "member": byMember[b.ws.id],
	}

	routes := []struct {
		method, suffix string
		body           any
		ok             int
	}{
		{"GET", "", nil, 200},
		{"PATCH", "", map[string]any{"name": "x"}, 200},
		{"GET", "/secret", nil, 200},
		{"POST", "/secret/rotate", nil, 200},
		{"POST", "/disable", nil, 200},
		{"POST", "/enable", nil, 200},
		{"POST", "/test", map[string]any{"eventType": "memo.created"}, 202},
		{"GET", "/deliveries", nil, 200},
		{"POST", "/recover", map[string]any{"since": "2024-01-01T00:00:00Z"}, 202},
	}
	for _, role := range roles {
		for _, whose := range []string{"own", "other's"} {
			for _, where := range []string{"same", "other"} {
				ws := b.ws.id
				if where == "other" {
					ws = b.ws2.id
				}
				var id string
				switch {
				case whose == "own" && where == "same":
					id = ownByRole[role] // a guest has none: any will do, it is refused
					if role == "guest" {
						id = byMember[ws]
					}
				case whose == "own":
					continue // nobody owns a webhook in a workspace they are not in
				case role == "member" || role == "guest":
					id = byAdmin[ws]
				default:
					id = byMember[ws]
				}
				want := map[string]int{}
				for _, r := range routes {
					switch {
					case role == "guest":
						want[r.method+r.suffix] = 403
					case where == "other":
						want[r.method+r.suffix] = 404
					case role == "member" && whose == "other's":
						want[r.method+r.suffix] = 404
					default:
						want[r.method+r.suffix] = r.ok
					}
				}
				for _, r := range routes {
					res := b.do(t, b.ws.keys[role], r.method, "/v1/webhooks/"+id+r.suffix, r.body)
					require.Equal(t, want[r.method+r.suffix], res.status, "%s on %s webhook of %s workspace: %s %s: %s", role, whose, where, r.method, r.suffix, res.body)
				}
			}
		}
	}
	// Deleting last, so the matrix above ran on live webhooks.
	require.Equal(t, 403, b.do(t, b.ws.keys["guest"], "DELETE", "/v1/webhooks/"+byMember[b.ws.id], nil).status)
	require.Equal(t, 404, b.do(t, b.ws.keys["member"], "DELETE", "/v1/webhooks/"+byAdmin[b.ws.id], nil).status)
	require.Equal(t, 404, b.do(t, b.ws.keys["owner"], "DELETE", "/v1/webhooks/"+byMember[b.ws2.id], nil).status)
	require.Equal(t, 204, b.do(t, b.ws.keys["admin"], "DELETE", "/v1/webhooks/"+byMember[b.ws.id], nil).status)
	fresh := b.create(t, b.ws.keys["member"])["id"].(string)
	require.Equal(t, 204, b.do(t, b.ws.keys["member"], "DELETE", "/v1/webhooks/"+fresh, nil).status, "members delete their own")
}

func TestGuestsCannotCreateOrList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, b.ws.keys["guest"], "POST", "/v1/webhooks", validWebhook())
	require.Equal(t, http.StatusForbidden, res.status)
	require.Contains(t, string(res.body), "guests cannot manage webhooks")
	require.Equal(t, http.StatusForbidden, b.do(t, b.ws.keys["guest"], "GET", "/v1/webhooks", nil).status)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	for _, tt := range []struct {
		name, header, want string
		status             int
	}{
		{"Missing", "", "missing Authorization header", 401},
		{"NotBearer", "Basic dXNlcjpwYXNz", "must be `Bearer <API key>`", 401},
		{"Empty", "Bearer ", "must be `Bearer <API key>`", 401},
		{"Unknown", "Bearer whk_nope", "API key not recognised", 401},
	} {
		req, _ := http.NewRequest("GET", b.url+"/v1/webhooks", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, err := b.client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, tt.status, resp.StatusCode, tt.name)
		require.Contains(t, string(body), tt.want, tt.name)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", tt.name)
	}

	// A key works, is noted as used, and stops working once revoked.
	key, row, role, err := auth.CreateAPIKey(ctx, b.pool, b.ws.id, b.ws.users["member"], "revoke me")
	require.NoError(t, err)
	require.Equal(t, "member", role)
	require.Equal(t, 200, b.do(t, key, "GET", "/v1/webhooks", nil).status)
	var lastUsed *time.Time
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT last_used_at FROM webhooks.api_keys WHERE id = $1`, row.ID).Scan(&lastUsed))
	require.NotNil(t, lastUsed)
	n, err := db.New().APIKeyRevoke(ctx, b.pool, row.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	res := b.do(t, key, "GET", "/v1/webhooks", nil)
	require.Equal(t, 401, res.status)
	require.Contains(t, string(res.body), "API key revoked")

	// A user removed from the workspace loses access at once.
	_, err = b.pool.Exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2`, b.ws.id, b.ws.users["admin"])
	require.NoError(t, err)
	res = b.do(t, b.ws.keys["admin"], "GET", "/v1/webhooks", nil)
	require.Equal(t, 403, res.status)
	require.Contains(t, string(res.body), "no longer a member")

	// A role change applies at once too.
	_, err = db.New().WorkspaceMemberUpsert(ctx, b.pool, db.WorkspaceMemberUpsertParams{WorkspaceID: b.ws.id, UserID: b.ws.users["owner"], Role: "guest"})
	require.NoError(t, err)
	require.Equal(t, 403, b.do(t, b.ws.keys["owner"], "GET", "/v1/webhooks", nil).status)

	_, _, _, err = auth.CreateAPIKey(ctx, b.pool, b.ws2.id, b.ws.users["member"], "")
	require.ErrorIs(t, err, auth.ErrNotMember)
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, b.ws.keys["owner"], "GET", "/v1/nothing-here", nil)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Contains(t, string(res.body), "no such route: GET /v1/nothing-here")
}

func TestTestEndpointValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.create(t, b.ws.keys["owner"])["id"].(string)
	res := b.do(t, b.ws.keys["owner"], "POST", "/v1/webhooks/"+id+"/test", map[string]any{"eventType": "investment.*"})
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	require.Contains(t, string(res.body), `"field":"eventType"`)
	res = b.do(t, b.ws.keys["owner"], "POST", "/v1/webhooks/"+id+"/test", map[string]any{"eventType": "investment.updated"})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	msg := res.json(t)["id"].(string)
	require.Regexp(t, `^msg_[0-9A-Za-z]{27}$`, msg)
	var jobs, others int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE args ->> 'messageId' = $1`, msg).Scan(&jobs))
	require.Equal(t, 1, jobs, "sent through the normal delivery path")
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhooks.messages WHERE webhook_id <> $1`, id).Scan(&others))
	require.Zero(t, others, "to this webhook alone")
	res = b.do(t, b.ws.keys["owner"], "GET", "/v1/messages/"+msg, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "pending", res.json(t)["state"])
}

func TestHTTPAllowedByPolicy(t *testing.T) {
	t.Parallel()
	allowed, err := netguard.ParseCIDRs("127.0.0.0/8")
	require.NoError(t, err)
	b := setup(t, api.Config{Policy: netguard.Policy{AllowHTTP: true, Allowed: allowed}})
	body := validWebhook()
	body["url"] = "http://127.0.0.1:9000/hooks"
	res := b.do(t, b.ws.keys["owner"], "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	body["url"] = "http://10.0.0.1/hooks"
	res = b.do(t, b.ws.keys["owner"], "POST", "/v1/webhooks", body)
	require.Equal(t, http.StatusUnprocessableEntity, res.status, "only the allowed range opens")
}

func ExampleNewSecret() {
	secret := auth.NewSecret()
	key, _ := webhook.DecodeSecret(secret)
	fmt.Println(strings.HasPrefix(secret, "whsec_"), len(key))
	// Output: true 32
}
