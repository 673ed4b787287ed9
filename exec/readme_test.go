package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README is executable documentation: its config sample must parse
// strictly, its FreeRADIUS snippets must be the shipped files, its report
// sample must be what the code prints, and its first commands must be the
// set-up that CI also runs.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fenceRE = regexp.MustCompile("(?s)```(\\w*)\n(.*?)```")

func TestReadmeConfigParses(t *testing.T) {
	found := 0
	for _, m := range fenceRE.FindAllStringSubmatch(readme(t), -1) {
		if m[1] != "toml" {
			continue
		}
		found++
		c, err := parseConfig([]byte(m[2]), "README.md")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.resolve(); err != nil {
			t.Fatal(err)
		}
		if err := c.validate(); err != nil {
			t.Fatalf("README config does not validate: %v", err)
		}
	}
	if found == 0 {
		t.Fatal("no toml block in README.md")
	}
}

func TestReadmeSnippetsAreShipped(t *testing.T) {
	r := readme(t)
	for _, f := range []string{"mods-available/radmfa", "policy.d/radmfa", "sites-available/radmfa",
		"mods-available/radmfa_rest", "policy.d/radmfa_rest", "sites-available/radmfa_rest"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "freeradius", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r, "```\n"+string(b)+"```") {
			t.Errorf("README.md does not show testdata/freeradius/%s verbatim", f)
		}
	}
}

func TestReadmeReportSample(t *testing.T) {
	b, err := os.ReadFile("testdata/report-activity.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readme(t), "$ radmfa report activity\n"+string(b)+"```") {
		t.Error("README.md's report sample differs from testdata/report-activity.txt")
	}
}

func TestReadmeFirstCommands(t *testing.T) {
	m := fenceRE.FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("no code block in README.md")
	}
	lines := strings.Split(strings.TrimSpace(m[2]), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "scripts/run.sh") || !strings.HasPrefix(lines[1], "scripts/test.sh") {
		t.Fatalf("README's first block must be the two set-up commands, got:\n%s", m[2])
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "scripts/test.sh") {
		t.Fatal(".ci/run does not call scripts/test.sh")
	}
	for _, s := range []string{"../scripts/run.sh", "../scripts/test.sh"} {
		if st, err := os.Stat(s); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("%s missing or not executable", s)
		}
	}
}
