package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want string
		err  string
	}{
		{"token", write("token", "tk_abc123\n"), "tk_abc123", ""},
		{"spaces and crlf", write("crlf", "  pw with space \r\nsecond line\n"), "pw with space", ""},
		{"empty", write("empty", "\n\n"), "", "is empty"},
		{"huge", write("huge", strings.Repeat("x", maxSecretFile+1)), "", "larger than"},
		{"missing", filepath.Join(dir, "nope"), "", "no such file"},
		{"directory", dir, "", "reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSecretFile("x: token_file", tt.path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "x: token_file") {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" valid
	}{
		{"https://ntfy.example.com", ""},
		{"https://ntfy.example.com:8443/base/", ""},
		{"http://127.0.0.1:8080/hook", ""},
		{"http://localhost/hook", ""},
		{"http://[::1]:9/x", ""},
		{"", "is required"},
		{"http://10.0.0.5/hook", "only to a loopback"},
		{"http://localhost.evil.example/", "only to a loopback"},
		{"ftp://example.com/", "want https"},
		{"example.com/hook", "absolute URL"},
		{"https://user:pw@example.com/", "no credentials"},
		{"https://exa mple.com/", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := CheckURL("url", tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	for d, ok := range map[time.Duration]bool{0: true, time.Second: true, 5 * time.Minute: true, -1: false, 5*time.Minute + 1: false} {
		if err := CheckTimeout("timeout", d); (err == nil) != ok {
			t.Errorf("CheckTimeout(%v) = %v, want ok %v", d, err, ok)
		}
	}
}
