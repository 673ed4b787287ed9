package builtin

import (
	"log/slog"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			if Describe(name) == "" {
				t.Error("no description")
			}
			n, err := New(name, slog.New(slog.DiscardHandler))
			if err != nil || n == nil {
				t.Fatalf("New: %v", err)
			}
			// Empty settings are a valid config only where every setting
			// has a default; either way the answer names the notifier.
			if err := ValidateSettings(name, []byte(`{"no_such_setting":1}`)); err == nil || !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("ValidateSettings: %v, want an error starting with %q", err, name+": ")
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := New("pager", nil); err == nil || !strings.Contains(err.Error(), "want one of command, ntfy, smtp, webhook") {
			t.Fatalf("got %v", err)
		}
		if err := ValidateSettings("pager", nil); err == nil {
			t.Fatal("no error")
		}
		if Describe("pager") != "" {
			t.Fatal("described")
		}
	})
}
