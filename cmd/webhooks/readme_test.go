package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEStandsAlone: every relative link and image of the README names
// a file of this repository, so that the README is whole in a clone (a link
// out of the repository, as to ../shared/, is a broken link there).
func TestREADMEStandsAlone(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(string(readme), -1)
	if len(links) == 0 {
		t.Fatal("no links found: the pattern is wrong")
	}
	for _, l := range links {
		target := l[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		if strings.HasPrefix(filepath.Clean(target), "..") {
			t.Errorf("README links out of the repository: %s", l[1])
			continue
		}
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			t.Errorf("README links to a file that is not here: %s", l[1])
		}
	}
}
