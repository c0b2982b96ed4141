package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// floors are the project's packages, each on its floor: a package imports
// only packages on floors below its own, never one beside or above it. The
// README's Layout section names them in the same order, and each package's
// comment says what it may import.
var floors = [][]string{
	// Leaves: nothing of the project.
	{"webhook", "db", "sql/migrations", "internal/pgurl", "internal/netguard", "internal/filter", "internal/batch", "internal/readiness"},
	// What every part relies on: River's internals, who may do what, the
	// tests' databases, the harness of the bench and the chaos test.
	{"internal/riverjob", "internal/auth", "internal/dbtest", "internal/harness"},
	// The mechanisms, and the metrics.
	{"internal/delivery", "internal/liveness", "internal/retention", "internal/metrics"},
	{"internal/expansion"},
	// River's job kinds, client and runner.
	{"jobs"},
	// The fronts: the API, the page, the local receiver.
	{"internal/api", "internal/play"},
	{"internal/portal"},
	{"internal/server", "internal/bench"},
	// The command.
	{"internal/cli"},
	{"cmd/webhooks"},
	// Tests only: nothing imports it.
	{"internal/chaos"},
}

// TestNoPackageImportsUpward: every package is on a floor, and its
// non-test imports of the project are on floors below.
func TestNoPackageImportsUpward(t *testing.T) {
	const module = "github.com/countercyclical/webhooks"
	floor := map[string]int{}
	for i, names := range floors {
		for _, name := range names {
			floor[name] = i
		}
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		f, ok := floor[pkg]
		if !ok {
			t.Errorf("package %s is on no floor: add it to floors, and to the README's Layout", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if g, ok := floor[dep]; ok && g >= f {
				t.Errorf("%s (floor %d) imports %s (floor %d): a package imports only from floors below", pkg, f, dep, g)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("go list named %d packages: the listing is wrong", seen)
	}
}
