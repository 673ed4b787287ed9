package command

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

const testCode = "493817"

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func configured(t *testing.T, settings map[string]any) *Notifier {
	t.Helper()
	b, _ := json.Marshal(settings)
	n := New(slog.New(slog.DiscardHandler))
	if _, err := n.Configure(context.Background(), &plugin.ConfigureRequest{Settings: b}); err != nil {
		t.Fatal(err)
	}
	return n
}

func codeRequest() *plugin.NotifyRequest {
	return &plugin.NotifyRequest{Kind: plugin.KindCode, User: "alice", To: "+441234567889", Text: "Your code is {code}", Code: testCode}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	stdin, args, env := filepath.Join(dir, "stdin"), filepath.Join(dir, "args"), filepath.Join(dir, "env")
	t.Setenv("RADMFA_TEST_LEAK", "should-not-pass")
	prog := script(t, `cat > "$OUT_DIR/stdin"
printf '%s\n' "$@" > "$OUT_DIR/args"
env | sort > "$OUT_DIR/env"
echo "sms-4711"
echo "second line"
`)
	n := configured(t, map[string]any{"path": prog, "args": []string{"--to", "$HOME", "*"}, "env": []string{"OUT_DIR=" + dir}})
	resp, err := n.Notify(context.Background(), codeRequest())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != plugin.StatusSent || resp.ID != "sms-4711" {
		t.Fatalf("response %+v, want sent with the first stdout line as id", resp)
	}
	b, err := os.ReadFile(stdin)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin is not one JSON object: %v\n%s", err, b)
	}
	want := map[string]any{"kind": "code", "user": "alice", "to": "+441234567889", "message": "Your code is " + testCode, "code": testCode}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stdin %s = %v, want %v", k, got[k], v)
		}
	}
	if b, _ := os.ReadFile(args); string(b) != "--to\n$HOME\n*\n" {
		t.Errorf("args %q: want them literally, no shell", b)
	}
	b, _ = os.ReadFile(env)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, _, _ := strings.Cut(line, "=")
		switch k {
		case "PATH", "LANG", "TZ", "OUT_DIR", "PWD", "SHLVL", "_":
		default:
			t.Errorf("unexpected environment variable %s", line)
		}
	}
}

func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	tests := []struct {
		name    string
		body    string
		timeout string
		want    string
		within  time.Duration
	}{
		{"exit status", "echo 'gateway rejected:' >&2; cat >&2; exit 3\n", "", "notify.sh: exit status 3: gateway rejected:", 5 * time.Second},
		{"killed by signal", "kill -9 $$\n", "", "signal: killed", 5 * time.Second},
		{"timeout kills the group", "sleep 30 &\necho $! > " + pidFile + "\necho working >&2\nwait\n", "300ms", "killed at the deadline", 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := map[string]any{"path": script(t, tt.body)}
			if tt.timeout != "" {
				settings["timeout"] = tt.timeout
			}
			start := time.Now()
			resp, err := configured(t, settings).Notify(context.Background(), codeRequest())
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > tt.within {
				t.Fatalf("took %v, want under %v", el, tt.within)
			}
			if resp.Status != plugin.StatusFailed || !strings.Contains(resp.Detail, tt.want) {
				t.Fatalf("response %+v, want failed containing %q", resp, tt.want)
			}
			if strings.Contains(resp.Detail, testCode) {
				t.Fatalf("detail holds the code: %s", resp.Detail)
			}
		})
	}
	t.Run("stderr excerpt is redacted", func(t *testing.T) {
		resp, _ := configured(t, map[string]any{"path": script(t, "cat >&2; exit 1\n")}).Notify(context.Background(), codeRequest())
		if !strings.Contains(resp.Detail, `"code":"[redacted]"`) {
			t.Fatalf("detail %q, want the echoed input with the code redacted", resp.Detail)
		}
	})
	t.Run("children die with the program", func(t *testing.T) {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		deadline := time.Now().Add(2 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("child %d of the killed program still runs", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		resp, err := configured(t, map[string]any{"path": script(t, "sleep 30\n")}).Notify(ctx, codeRequest())
		if err != nil || resp.Status != plugin.StatusFailed || !strings.Contains(resp.Detail, "killed") {
			t.Fatalf("got %+v, %v", resp, err)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		if _, err := New(slog.New(slog.DiscardHandler)).Notify(context.Background(), codeRequest()); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	tests := []struct {
		name string
		in   string
		want string // "" valid
	}{
		{"valid", `{"path":"/bin/true","args":["-x"],"env":["A=b=c"],"timeout":"3s"}`, ""},
		{"no path", `{}`, "path is required"},
		{"relative", `{"path":"send-sms"}`, "want an absolute path"},
		{"bad env", `{"path":"/bin/true","env":["NOVALUE"]}`, "want KEY=VALUE"},
		{"empty env key", `{"path":"/bin/true","env":["=x"]}`, "want KEY=VALUE"},
		{"nul in arg", `{"path":"/bin/true","args":["a\u0000b"]}`, "NUL"},
		{"timeout", `{"path":"/bin/true","timeout":"6m"}`, "timeout"},
		{"shell string", `{"path":"/bin/true","command":"x | y"}`, `unknown field "command"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope"), "not executable": plain, "directory": dir} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"path": path})
			if _, err := New(slog.New(slog.DiscardHandler)).Configure(context.Background(), &plugin.ConfigureRequest{Settings: b}); err == nil {
				t.Fatal("configured")
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{"path":"/bin/true"}`, `{"path":"/x","env":["A=1"],"args":["-"]}`, `{"env":["="]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if !filepath.IsAbs(c.Path) {
			t.Fatalf("accepted path %q", c.Path)
		}
		for _, e := range c.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("accepted env %q", e)
			}
		}
	})
}
