package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestREADMEStandsAlone: every relative link and image of the README and of
// docs/*.md names a file of this repository, relative to the file that
// holds it, so that the documentation is whole in a clone (a link out of the
// repository, as to ../shared/, is a broken link there); and every #anchor
// into a Markdown file of the repository names a heading of that file.
func TestREADMEStandsAlone(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no docs/*.md found")
	}
	files := append([]string{filepath.Join(root, "README.md")}, docs...)
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		links := markdownLinks(string(text))
		if rel == "README.md" && len(links) == 0 {
			t.Fatal("no links found in README.md: the pattern is wrong")
		}
		for _, link := range links {
			if msg := checkLink(root, file, link); msg != "" {
				t.Errorf("%s: %s: %s", rel, link, msg)
			}
		}
	}
}

// TestCheckLinkFails: the check above finds what it must find.
func TestCheckLinkFails(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(root, "README.md")
	design := filepath.Join(root, "docs", "design.md")
	for _, c := range []struct {
		file, link string
		ok         bool
	}{
		{readme, "docs/design.md", true},
		{readme, "docs/design.md#the-flow", true},
		{readme, "#layout", true},
		{design, "../README.md#layout", true},
		{design, "capture.md", true},
		{readme, "https://example.com/x", true},
		{readme, "docs/missing.md", false},
		{readme, "docs/design.md#no-such-heading", false},
		{readme, "#no-such-heading", false},
		{design, "design.md#the-flow-", false},
		{design, "docs/capture.md", false},
		{design, "../../shared/DESIGN.md", false},
		{readme, "../shared/DESIGN.md", false},
		{readme, "/etc/passwd", false},
		{readme, "file:///etc/passwd", false},
	} {
		msg := checkLink(root, c.file, c.link)
		if (msg == "") != c.ok {
			t.Errorf("%s in %s: got %q, want ok %v", c.link, filepath.Base(c.file), msg, c.ok)
		}
	}
}

var (
	fence      = regexp.MustCompile("(?m)^```.*$")
	linkTarget = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	htmlTarget = regexp.MustCompile(`(?i)<(?:a|img)\b[^>]*?\b(?:href|src)="([^"]+)"`)
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// outsideFences is text with its fenced code blocks blanked out.
func outsideFences(text string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		if fence.MatchString(line) {
			in = !in
			continue
		}
		if !in {
			out = append(out, line)
		}
	}
	return out
}

// markdownLinks returns the targets of the links and images of a Markdown
// text, outside code blocks.
func markdownLinks(text string) []string {
	var links []string
	body := strings.Join(outsideFences(text), "\n")
	for _, re := range []*regexp.Regexp{linkTarget, htmlTarget} {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			links = append(links, m[1])
		}
	}
	return links
}

// checkLink says what is wrong with a link of file, or "" when nothing is.
func checkLink(root, file, link string) string {
	switch {
	case strings.HasPrefix(link, "https://"), strings.HasPrefix(link, "http://"), strings.HasPrefix(link, "mailto:"):
		return ""
	case strings.Contains(link, "://"):
		return "a scheme a clone cannot follow"
	case strings.HasPrefix(link, "/"):
		return "an absolute path: write it relative to the file"
	}
	path, anchor, _ := strings.Cut(link, "#")
	target := file
	if path != "" {
		target = filepath.Clean(filepath.Join(filepath.Dir(file), filepath.FromSlash(path)))
		rel, err := filepath.Rel(root, target)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "leaves the repository"
		}
		if _, err := os.Stat(target); err != nil {
			return "names no file of the repository"
		}
	}
	if anchor == "" || !strings.HasSuffix(target, ".md") {
		return ""
	}
	text, err := os.ReadFile(target)
	if err != nil {
		return err.Error()
	}
	if !anchors(string(text))[anchor] {
		return fmt.Sprintf("no heading of %s has the anchor #%s", filepath.Base(target), anchor)
	}
	return ""
}

// anchors are the anchors GitHub gives the headings of a Markdown text:
// lowercase, punctuation but '-' and '_' dropped, spaces made '-', and a
// heading met again numbered ("-1", "-2", …).
func anchors(text string) map[string]bool {
	found := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideFences(text) {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-', r == '_', unicode.IsLetter(r), unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			found[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			found[slug] = true
		}
		seen[slug]++
	}
	return found
}
