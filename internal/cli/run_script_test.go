package cli_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

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
	require.NoError(t, os.WriteFile(filepath.Join(root, "scripts", "run.sh"), script, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "scripts", "db.sh"), []byte("#!/bin/sh\necho 'db.sh reached: the port check let the run through' >&2\nexit 3\n"), 0o755))

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
