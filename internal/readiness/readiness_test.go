package readiness_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
	"github.com/countercyclical/webhooks/internal/harness"
	"github.com/countercyclical/webhooks/internal/readiness"
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

// TestWorkerWritesReady runs the real `webhooks worker` with a pipe as its
// fd 3: it writes "ready\n" once it works (its log says so first), then
// closes the pipe, and keeps working until SIGTERM.
func TestWorkerWritesReady(t *testing.T) {
	t.Parallel()
	bin := webhooksBinary(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	logPath := filepath.Join(t.TempDir(), "worker.log")
	log, err := os.Create(logPath)
	require.NoError(t, err)
	defer log.Close()
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbtest.NewDB(t), "WEBHOOKS_LOG_FORMAT=text", readiness.Env+"=3")
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = log, log, []*os.File{w}
	require.NoError(t, cmd.Start())
	w.Close()
	defer cmd.Process.Kill() //nolint:errcheck

	lines := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r) // the line, then the end: the worker closed it
		lines <- string(b)
	}()
	select {
	case got := <-lines:
		require.Equal(t, "ready\n", got)
	case <-time.After(time.Minute):
		t.Fatal("no ready line within a minute")
	}
	// An os.File writes straight to the file: the log line was written
	// before the ready line.
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	require.Contains(t, string(b), "msg=working")
	require.Nil(t, cmd.ProcessState, "still working")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}

// TestWorkerRefusesBadFD: a value that names no open descriptor stops the
// worker before it connects.
func TestWorkerRefusesBadFD(t *testing.T) {
	t.Parallel()
	bin := webhooksBinary(t)
	for value, want := range map[string]string{
		"abc": `WEBHOOKS_READY_FD="abc" is not an inherited file descriptor (3 or more)`,
		"1":   `WEBHOOKS_READY_FD="1" is not an inherited file descriptor (3 or more)`,
		"57":  `WEBHOOKS_READY_FD=57 is not an open file descriptor`,
	} {
		cmd := exec.Command(bin, "worker")
		// Port 1: were the variable read after connecting, the error would
		// be the connection's.
		cmd.Env = append(os.Environ(), "DATABASE_URL=postgres://postgres@127.0.0.1:1/webhooks", readiness.Env+"="+value)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, value)
		require.Contains(t, string(out), want, value)
	}
}

// TestSignal: the line, then the end of the pipe; nothing without a file.
func TestSignal(t *testing.T) {
	t.Parallel()
	f, err := readiness.Open("")
	require.NoError(t, err)
	require.Nil(t, f)
	require.NoError(t, readiness.Signal(nil))

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, readiness.Signal(w))
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, readiness.Line, line)
	_, err = r.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "closed after the line")
}
