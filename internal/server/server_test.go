package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
	"github.com/countercyclical/webhooks/sql/migrations"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func get(t *testing.T, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func start(t *testing.T, config server.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := server.New(ctx, config)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		http.DefaultClient.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond) // River UI's goroutines see ctx end
	})
	return srv.URL
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	url := start(t, server.Config{Pool: pool})
	code, body := get(t, url+"/readyz", "", "")
	require.Equal(t, 200, code, body)
	code, _ = get(t, url+"/healthz", "", "")
	require.Equal(t, 200, code)

	require.NoError(t, migrations.Down(context.Background(), pool, 1))
	code, body = get(t, url+"/readyz", "", "")
	require.Equal(t, 503, code)
	require.Contains(t, body, "run `webhooks migrate up`")
}

func TestRiverUI(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	client, err := jobs.NewClient(pool, jobs.Config{})
	require.NoError(t, err)

	t.Run("NotServedWithoutCredentials", func(t *testing.T) {
		url := start(t, server.Config{Pool: pool, River: client})
		code, _ := get(t, url+"/riverui/", "", "")
		require.Equal(t, 404, code)
	})

	t.Run("BehindBasicAuth", func(t *testing.T) {
		url := start(t, server.Config{Pool: pool, River: client, RiverUIUsername: "ops", RiverUIPassword: "s3cret"})
		code, body := get(t, url+"/riverui/", "", "")
		require.Equal(t, 401, code)
		require.Contains(t, body, "RIVERUI_USERNAME")
		code, _ = get(t, url+"/riverui/", "ops", "wrong")
		require.Equal(t, 401, code)
		code, body = get(t, url+"/riverui/", "ops", "s3cret")
		require.Equal(t, 200, code)
		require.True(t, strings.Contains(strings.ToLower(body), "<html"), body)
		code, body = get(t, url+"/riverui/api/jobs?state=available", "ops", "s3cret")
		require.Equal(t, 200, code, body)
		code, _ = get(t, url+"/riverui/api/jobs?state=available", "", "")
		require.Equal(t, 401, code, "its JSON API is guarded too")
	})
}
