package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/countercyclical/webhooks/internal/dbtest"
)

// writeScript writes an executable. A process forked by a parallel test
// while the file is open for writing holds it until its exec, and running
// the script then fails with "text file busy". Forks wait for ForkLock's
// readers.
func writeScript(t *testing.T, path string, content []byte) {
	t.Helper()
	syscall.ForkLock.RLock()
	err := os.WriteFile(path, content, 0o755)
	syscall.ForkLock.RUnlock()
	require.NoError(t, err)
}

// TestRunRefusesTakenPorts: `make run` (scripts/run.sh) checks its two
// ports before anything else, and when one is taken says plainly by what
// (this test process, here) and stops, rather than using the server found
// there. With ss and lsof, and without them (from /proc, as on a minimal
// image). The script runs from a copy whose db.sh is a stub, so that a check
// that let it through would fail here and touch no database.
func TestRunRefusesTakenPorts(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "scripts"), 0o755))
	script, err := os.ReadFile("../../scripts/run.sh")
	require.NoError(t, err)
	writeScript(t, filepath.Join(root, "scripts", "run.sh"), script)
	writeScript(t, filepath.Join(root, "scripts", "db.sh"), []byte("#!/bin/sh\necho 'db.sh reached: the port check let the run through' >&2\nexit 3\n"))

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	freeAddr := free.Addr().String()
	require.NoError(t, free.Close())

	// Only what the check needs: no ss, no lsof.
	bare := t.TempDir()
	for _, tool := range []string{"bash", "sed", "head", "tr", "cat", "find", "cut", "dirname"} {
		path, err := exec.LookPath(tool)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(path, filepath.Join(bare, tool)))
	}
	holder := "is taken by pid " + strconv.Itoa(os.Getpid()) + ": " + os.Args[0]

	for _, tt := range []struct{ name, webhooksAddr, playAddr string }{
		{"WEBHOOKS_ADDR", taken.Addr().String(), freeAddr},
		{"PLAY_ADDR", freeAddr, taken.Addr().String()},
	} {
		for _, path := range []string{os.Getenv("PATH"), bare} {
			cmd := exec.Command(filepath.Join(root, "scripts", "run.sh"))
			cmd.Env = []string{"PATH=" + path, "WEBHOOKS_ADDR=" + tt.webhooksAddr, "PLAY_ADDR=" + tt.playAddr, "DATABASE_URL=postgres://postgres@127.0.0.1:1/webhooks"}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
			require.Equal(t, 1, exit.ExitCode(), "%s", out)
			require.Contains(t, string(out), "run: "+tt.name+" "+taken.Addr().String()+" "+holder, "PATH=%s", path)
			require.Contains(t, string(out), "set "+tt.name+" to a free address")
			require.Equal(t, 1, strings.Count(string(out), "\n"), "one line: %s", out)
		}
	}
}

// TestMakeRun runs `make run` (scripts/run.sh) as a newcomer would, from a
// copy of the scripts with the binary built beside them, on a database of
// its own: its directions come, a change made as they say arrives at play,
// verified, and Ctrl-C stops everything and frees both ports. Nothing it
// prints comes from a tool rather than the script: no stray "grep: …/play:
// No such file or directory" from looking at a log before it exists.
func TestMakeRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("make run needs curl, which it installs only as root")
	}
	root := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(root, "scripts"), 0o755))
	for _, name := range []string{"run.sh", "db.sh"} {
		script, err := os.ReadFile(filepath.Join("../../scripts", name))
		require.NoError(t, err)
		writeScript(t, filepath.Join(root, "scripts", name), script)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "webhooks"), "github.com/countercyclical/webhooks/cmd/webhooks")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		return l.Addr().String()
	}
	addr, playAddr := free(), free()
	url := dbtest.NewDB(t)
	cmd := exec.Command(filepath.Join(root, "scripts", "run.sh"))
	cmd.Env = append(os.Environ(), "WEBHOOKS_ADDR="+addr, "PLAY_ADDR="+playAddr, "DATABASE_URL="+url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var output lockedOutput
	cmd.Stdout, cmd.Stderr = &output, &output
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !strings.Contains(output.String(), what) {
			select {
			case err := <-exited:
				t.Fatalf("make run exited (%v) before %q:\n%s", err, what, output.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q within 2 minutes:\n%s", what, output.String())
			}
		}
	}
	waitFor("Ctrl-C stops everything.")
	directions := output.String()
	for _, want := range []string{"Open the Webhooks page as the demo owner", "/portal/", "River UI         http://" + addr + "/riverui/", "play receiver    http://" + playAddr + "/"} {
		require.Contains(t, directions, want)
	}
	workspace := regexp.MustCompile(`VALUES \('([^']+)', '([^']+)', 'Coca-Cola Co'`).FindStringSubmatch(directions)
	require.NotNil(t, workspace, "the directions give a change to make:\n%s", directions)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "INSERT INTO investments (workspace_id, created_by, name, ticker_symbol) VALUES ($1, $2, 'Coca-Cola Co', 'KO')", workspace[1], workspace[2])
	require.NoError(t, err)
	waitFor("type=investment.created")
	require.Regexp(t, `play  \| \S+ 200 POST /hooks type=investment\.created webhook-id=\S+ event-id=\S+ verified`, output.String())

	require.NoError(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
	select {
	case err := <-exited:
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit)
		require.Equal(t, 130, exit.ExitCode(), "Ctrl-C: %s", output.String())
	case <-time.After(time.Minute):
		t.Fatalf("make run did not stop within a minute of Ctrl-C:\n%s", output.String())
	}
	for _, a := range []string{addr, playAddr} {
		require.Eventually(t, func() bool {
			l, err := net.Listen("tcp", a)
			if err == nil {
				l.Close()
			}
			return err == nil
		}, 10*time.Second, 50*time.Millisecond, "%s is freed", a)
	}
	for _, line := range strings.Split(output.String(), "\n") {
		require.NotRegexp(t, `^(grep|sed|tee|curl|awk|kill|bash|.*run\.sh: line \d+):`, line, "a line from a tool, not from make run")
		require.NotContains(t, line, "No such file or directory")
	}
}

// lockedOutput collects a process's output as it writes it.
type lockedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
