package plugin

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEExample checks that the plugin in README.md is exactly the
// program in internal/exampleplugin, which the host's tests build and run.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("internal/exampleplugin/main.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(src)
	code = code[strings.Index(code, "package main"):]
	if !strings.Contains(string(readme), "```go\n"+code+"```\n") {
		t.Fatalf("README.md does not show internal/exampleplugin/main.go (from \"package main\" on) in a go block; update one from the other")
	}
	lines := strings.Count(code, "\n")
	if lines > 40 {
		t.Fatalf("the README plugin has %d lines; keep it short", lines)
	}
}
