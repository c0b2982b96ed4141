package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/harness"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// webhooksBinary is the binary the test runs (harness.Binary).
func webhooksBinary(t *testing.T) string {
	t.Helper()
	bin, err := harness.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// script writes a shell script standing in for the webhooks binary.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhooks")
	// A process forked by a parallel test while the file is open for
	// writing holds it until its exec, and running the script then fails
	// with "text file busy". Forks wait for ForkLock's readers.
	syscall.ForkLock.RLock()
	err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755)
	syscall.ForkLock.RUnlock()
	require.NoError(t, err)
	return path
}

func workerEnv(url string) []string {
	return append(os.Environ(), "DATABASE_URL="+url, "WEBHOOKS_LOG_FORMAT=text")
}

// TestWorkersReady starts real worker processes and waits for their ready
// line; stopped, none is reported failed.
func TestWorkersReady(t *testing.T) {
	t.Parallel()
	bin := webhooksBinary(t)
	ws, err := harness.StartWorkers(context.Background(), harness.WorkerConfig{Bin: bin, Env: workerEnv(dbtest.NewDB(t))}, 2, time.Minute)
	require.NoError(t, err)
	ws.Stop(30 * time.Second)
	for _, w := range ws.List {
		require.NoError(t, w.Err(), "SIGTERM is a graceful stop:\n%s", w.Log())
		// The log is copied from a pipe of its own: read once it is over.
		require.Contains(t, w.Log(), "msg=working")
		require.Contains(t, w.Log(), "msg=\"shutting down\"")
	}
	select {
	case err := <-ws.Failed():
		t.Fatalf("a stopped worker is no failure: %v", err)
	default:
	}
}

// TestWorkerExitsBeforeReady: a worker that cannot connect exits, and
// Ready says so at once, with its exit status and its log.
func TestWorkerExitsBeforeReady(t *testing.T) {
	t.Parallel()
	bin := webhooksBinary(t)
	w, err := harness.StartWorker(harness.WorkerConfig{Bin: bin, Env: workerEnv("postgres://postgres@127.0.0.1:1/webhooks"), Name: "worker 1"})
	require.NoError(t, err)
	start := time.Now()
	err = w.Ready(context.Background(), time.Minute)
	require.Error(t, err)
	require.Less(t, time.Since(start), 30*time.Second, "not the timeout")
	require.Contains(t, err.Error(), "worker 1 (pid ")
	require.Contains(t, err.Error(), "exited before it was ready (exit status 1)")
	require.Contains(t, err.Error(), "cannot connect to PostgreSQL at 127.0.0.1:1")
}

// TestWorkersFailClearly: a process that closes the pipe without the line,
// or never writes it, fails StartWorkers with what happened, and is not
// left running.
func TestWorkersFailClearly(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body, want string
		timeout          time.Duration
	}{
		{"closed", `echo starting >&2; exec 3>&-; exec sleep 60`, "closed its readiness pipe without writing \"ready\\n\":\nstarting", time.Minute},
		{"silent", `echo starting >&2; exec sleep 60`, ") not ready after 500ms:\nstarting", 500 * time.Millisecond},
		{"wrong line", `echo starting >&2; echo working >&3; exec sleep 60`, "closed its readiness pipe without writing", time.Minute},
		{"exits", `echo "bad configuration" >&2; exit 3`, "worker process 1 (pid", time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			ws, err := harness.StartWorkers(context.Background(), harness.WorkerConfig{Bin: script(t, tt.body), Env: os.Environ()}, 1, tt.timeout)
			require.Nil(t, ws)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.Less(t, time.Since(start), 20*time.Second, "the stop kills what SIGTERM does not end: sleep ends with it")
			if tt.name == "exits" {
				require.Contains(t, err.Error(), "exited before it was ready (exit status 3):\nbad configuration")
			}
		})
	}
}

// TestFailedReportsExit: a ready worker that exits by itself is reported
// on Failed, with its log.
func TestFailedReportsExit(t *testing.T) {
	t.Parallel()
	bin := script(t, `echo ready >&3; exec 3>&-; read line; echo "gone: $line" >&2; exit 4`)
	// Standard input is empty: read returns at once, and the process exits.
	ws, err := harness.StartWorkers(context.Background(), harness.WorkerConfig{Bin: bin, Env: os.Environ()}, 1, time.Minute)
	require.NoError(t, err)
	defer ws.Stop(time.Second)
	select {
	case err := <-ws.Failed():
		require.Contains(t, err.Error(), "worker process 1 exited (exit status 4):\ngone:")
	case <-time.After(30 * time.Second):
		t.Fatal("the exit was not reported")
	}
	require.True(t, strings.HasPrefix(ws.List[0].Log(), "gone:"))
}
