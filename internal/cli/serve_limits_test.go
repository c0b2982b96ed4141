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
	"github.com/countercyclical/webhooks/internal/auth"
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

// slowKinds are the ways a client can be slow: it announces a body of 1,000
// bytes and sends one (the reproduction of issue 13), never finishes its
// headers, or sends nothing.
var slowKinds = []func(conn net.Conn, key string) error{
	func(conn net.Conn, key string) error {
		_, err := io.WriteString(conn, "POST /v1/webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+key+
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		return err
	},
	func(conn net.Conn, key string) error {
		_, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		return err
	},
	func(conn net.Conn, key string) error { return nil },
}

// TestSlowClientsAreCut: each kind of slow client, and an idle kept-alive
// connection, is cut off by a timeout rather than held for good; a body
// never sent is answered first. The timeouts are shortened here.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewDB(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ws := dbtest.Workspace(t, pool, "w")
	user := dbtest.Member(t, pool, ws, "owner")
	key, _, _, err := auth.CreateAPIKey(ctx, pool, ws, user, "test")
	require.NoError(t, err)
	client, err := jobs.NewClient(pool, jobs.Config{}) // insert-only, as the API uses it
	require.NoError(t, err)
	handler, err := server.New(ctx, server.Config{Pool: pool, API: api.Config{River: client, MaxAttempts: 8}})
	require.NoError(t, err)
	limits := defaultHTTPLimits
	limits.readHeader, limits.read, limits.idle = time.Second, 2*time.Second, time.Second
	addr := startServing(t, handler, limits)

	var conns []net.Conn
	for _, kind := range slowKinds {
		conn := dial(t, addr)
		require.NoError(t, kind(conn, key))
		conns = append(conns, conn)
	}
	idle := dial(t, addr)
	_, err = io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	conns = append(conns, idle)

	// The minute is the test's patience, not a measure.
	for i, conn := range conns {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Minute)))
		got, err := io.ReadAll(conn)
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			t.Fatalf("slow connection %d still held after a minute; it got %q", i, got)
		}
		switch i {
		case 0:
			require.True(t, strings.HasPrefix(string(got), "HTTP/1.1 4"), "a body never sent is answered: %q", got)
		case 3:
			require.True(t, strings.HasPrefix(string(got), "HTTP/1.1 200 OK"), "answered, then idle: %q", got)
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
