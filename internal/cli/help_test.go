package cli_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dispatched lists the commands of run's switch in cli.go, read from the
// source, so that a command added there without help fails
// TestEveryCommandHasHelp.
func dispatched(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "cli.go", nil, 0)
	require.NoError(t, err)
	var names []string
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if ok && fn.Name.Name != "run" {
			return false
		}
		clause, ok := n.(*ast.CaseClause)
		if !ok {
			return true
		}
		for _, e := range clause.List {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			name, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			if name != "help" && !strings.HasPrefix(name, "-") {
				names = append(names, name)
			}
		}
		return true
	})
	require.Contains(t, names, "play", "found run's switch in cli.go")
	return names
}

// TestEveryCommandHasHelp: `X --help` and `X -h`, for every command and
// subcommand and wherever among the arguments, print X's own usage on
// standard output and exit 0, without doing anything: no database is
// reachable here, and `apikey revoke --help` must not look up a key named
// --help, nor `db ping --help` parse it as a URL.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/webhooks"}
	subcommands := map[string][][]string{
		"migrate": {{"up"}, {"down"}, {"down", "1"}, {"version"}},
		"apikey":  {{"create"}, {"create", "--workspace", "W"}, {"revoke"}, {"revoke", "ID"}},
		"db":      {{"ping"}, {"ping", "postgres://x"}, {"create"}},
		"play":    {{"--status", "503"}},
		"bench":   {{"--events", "10"}},
	}
	for _, name := range dispatched(t) {
		variants := append([][]string{nil}, subcommands[name]...)
		for _, args := range variants {
			for _, help := range []string{"--help", "-h", "-help"} {
				full := append(append([]string{name}, args...), help)
				res := run(t, env, full...)
				require.Equal(t, 0, res.code, "%v: %s", full, res.stderr)
				require.Empty(t, res.stderr, full)
				require.True(t, strings.HasPrefix(res.stdout, "Usage: webhooks "+name), "%v printed %q", full, res.stdout)
			}
		}
	}
	// What the issue found missing.
	require.Contains(t, run(t, env, "play", "--help").stdout, "--gone")
	require.Contains(t, run(t, env, "play", "--help").stdout, "--status")
	require.Contains(t, run(t, env, "play", "--help").stdout, "--keep")
	require.Contains(t, run(t, env, "bench", "--help").stdout, "--noisy-backlog")
	require.Contains(t, run(t, env, "serve", "--help").stdout, "WEBHOOKS_MAX_CONNS")
	require.Contains(t, run(t, env, "serve", "--help").stdout, "WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE   webhooks a workspace may have (default 100)")
	require.Contains(t, run(t, env, "serve", "--help").stdout, "WEBHOOKS_TEST_SENDS_PER_MINUTE   test sends a workspace may make a minute")
	require.Equal(t, run(t, env, "play", "--help").stdout, run(t, env, "help", "play").stdout)

	// After "--" it is an argument, not a request for help.
	res := run(t, env, "apikey", "revoke", "--", "--help")
	require.NotEqual(t, 0, res.code)
}

// TestUsageErrorShowsCommandUsage: a mistake in a command's arguments is
// followed by that command's usage, not the global one.
func TestUsageErrorShowsCommandUsage(t *testing.T) {
	t.Parallel()
	res := run(t, nil, "play", "--bogus")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "flag provided but not defined: -bogus\n\nUsage: webhooks play [flags]")
	require.Contains(t, res.stderr, "--retry-after")
	res = run(t, nil, "frobnicate")
	require.Contains(t, res.stderr, "Usage: webhooks <command>")
}
