package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/api"
	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/server"
	"github.com/countercyclical/webhooks/jobs"
)

// startServing runs serveUntil on a loopback port until the test ends and
// returns its address.
func startServing(t *testing.T, handler http.Handler, limits httpLimits) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUntil(ctx, listener, handler, limits, time.Second) }()
	t.Cleanup(func() {
		cancel()
		// Shutdown does not wait for hijacked or stuck connections; the
		// test closes its own.
		<-done
	})
	return listener.Addr().String()
}

// dial opens a raw connection, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// fresh is a client with no connection of its own kept, so that each
// request needs a connection the server accepts now.
func fresh(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestSlowClientsDoNotExhaustServe holds 200 slow connections open against
// the real handler of serve: some announce a body of 1,000 bytes and send one
// (the reproduction of issue 13), some never finish their headers, some send
// nothing. /healthz and an authenticated API request still answer while they
// are held, because the default connection cap leaves room above them; and
// each slow connection is then cut by a timeout rather than held for good.
// The timeouts are shortened here so that the test need not wait 30 s; the
// cap is the default.
func TestSlowClientsDoNotExhaustServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var ws, user string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO workspaces (name) VALUES ('w') RETURNING id`).Scan(&ws))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO users (email) VALUES ('o@example.com') RETURNING id`).Scan(&user))
	_, err = pool.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner')`, ws, user)
	require.NoError(t, err)
	key, _, _, err := api.CreateAPIKey(ctx, pool, ws, user, "test")
	require.NoError(t, err)
	client, err := jobs.NewClient(pool, jobs.Config{}) // insert-only, as the API uses it
	require.NoError(t, err)
	handler, err := server.New(ctx, server.Config{Pool: pool, API: api.Config{River: client, MaxAttempts: 8}})
	require.NoError(t, err)

	limits := defaultHTTPLimits
	limits.readHeader, limits.read, limits.idle = time.Second, 2*time.Second, time.Second
	require.Greater(t, limits.maxConns, 200+2, "the default cap must leave room above 200 held connections")
	addr := startServing(t, handler, limits)

	const slow = 200
	conns := make([]net.Conn, slow)
	for i := range conns {
		conns[i] = dial(t, addr)
		var err error
		switch i % 4 {
		case 0, 1: // a body announced and never sent
			_, err = io.WriteString(conns[i], "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+
				"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		case 2: // headers never finished
			_, err = io.WriteString(conns[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		case 3: // nothing at all
		}
		require.NoError(t, err)
	}

	// While all 200 are held (cut only after a second or two).
	c := fresh(time.Minute)
	resp, err := c.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	req, err := http.NewRequest("GET", "http://"+addr+"/v1/webhooks", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = c.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	// Every slow connection is closed by the server, within its timeouts;
	// the minute is the test's patience, not a measure. A body never sent
	// is answered first (the API refuses the truncated body).
	for i, conn := range conns {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
		got, err := io.ReadAll(conn)
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			t.Fatalf("slow connection %d (kind %d) still held after a minute; it got %q", i, i%4, got)
		}
		if i%4 <= 1 {
			require.True(t, strings.HasPrefix(string(got), "HTTP/1.1 4"), "connection %d answered %q", i, got)
		}
	}
}

// TestServeCapsConnections: past the cap, a connection waits until one of
// those held closes.
func TestServeCapsConnections(t *testing.T) {
	t.Parallel()
	limits := defaultHTTPLimits
	limits.maxConns = 3
	limits.idle, limits.readHeader = time.Hour, time.Hour // held until closed
	addr := startServing(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }), limits)
	held := make([]net.Conn, limits.maxConns)
	for i := range held {
		held[i] = dial(t, addr)
		// A request answered proves the server took the connection.
		_, err := io.WriteString(held[i], "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		status, err := bufio.NewReader(held[i]).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 200 OK\r\n", status)
	}

	answered := make(chan error, 1)
	go func() {
		resp, err := fresh(time.Minute).Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("answered past the cap of %d (error %v)", limits.maxConns, err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	require.NoError(t, <-answered, "answered once a connection closed")
}

// TestServeCutsStalledReaders: a client that stops reading its answer holds
// the handler only until the write timeout.
func TestServeCutsStalledReaders(t *testing.T) {
	t.Parallel()
	limits := defaultHTTPLimits
	limits.write = time.Second
	writeErr := make(chan error, 1)
	addr := startServing(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			// Far more than the sockets' buffers hold.
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}), limits)
	conn := dial(t, addr)
	_, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	select {
	case err := <-writeErr:
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	case <-time.After(time.Minute):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
}
