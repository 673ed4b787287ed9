package host

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

func TestScrubber(t *testing.T) {
	s := &scrubber{}
	s.add("493817", "https://mfa.example.com/approve/abc", "12", "")
	tests := []struct{ in, want string }{
		{"code 493817 sent", "code [redacted] sent"},
		{"url https://mfa.example.com/approve/abc?x", "url [redacted]?x"},
		{"short values like 12 stay", "short values like 12 stay"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := s.scrub(tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("keeps the most recent", func(t *testing.T) {
		s := &scrubber{}
		for i := range 200 {
			s.add(strings.Repeat("x", 4) + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		}
		last := "xxxx" + string(rune('a'+199%26)) + string(rune('a'+199/26))
		if got := s.scrub(last); got != "[redacted]" {
			t.Fatalf("latest secret not scrubbed: %q", got)
		}
	})
}

func TestHCLogger(t *testing.T) {
	var buf bytes.Buffer
	s := &scrubber{}
	s.add("493817")
	l := newHCLogger(zerolog.New(&buf).Level(zerolog.InfoLevel), s)
	named := l.Named("sms-plugin").With("pid", 42)
	named.Info("sent 493817", "plugin", "/usr/lib/p", "timestamp", "x", "@module", "m", "nested", map[string]any{"url": "a&b", "c": "493817"}, "err", json.Unmarshal([]byte("{"), new(any)))
	named.Debug("hidden")
	l.Log(hclog.Error, "boom", "odd")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (debug is below the level):\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "info", "message": "sent [redacted]", "module": "m", "pid": 42.0, "plugin_path": "/usr/lib/p"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v (record %v)", k, rec[k], v, rec)
		}
	}
	if nested := rec["nested"].(map[string]any); nested["c"] != "[redacted]" || nested["url"] != "a&b" {
		t.Errorf("nested %v", nested)
	}
	if _, ok := rec["timestamp"]; ok {
		t.Error("hclog's timestamp kept")
	}
	if !strings.Contains(lines[1], `"level":"error"`) {
		t.Errorf("error line %s", lines[1])
	}
	if l.GetLevel() != hclog.Info || !l.IsInfo() || l.IsDebug() {
		t.Errorf("level %v", l.GetLevel())
	}
}

func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	s := &scrubber{}
	s.add("493817")
	w := newLineWriter(zerolog.New(&buf), s, "stderr")
	for _, chunk := range []string{
		`{"@level":"warn","@message":"gateway slow","@timestamp":"2026-01-02T03:04:05.000000Z","seconds":2}` + "\n",
		"plain line with 493",
		"817\r\n\n",
		`{"not hclog"` + "\n",
	} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		`{"level":"warn","stream":"stderr","seconds":2,"message":"gateway slow"}`,
		`{"level":"info","stream":"stderr","message":"plain line with [redacted]"}`,
		`{"level":"info","stream":"stderr","message":"{\"not hclog\""}`,
	} {
		if lines[i] != want {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want)
		}
	}
}
