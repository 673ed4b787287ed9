package host

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/plugin/builtin/webhook"
)

// startBuiltin starts a built-in notifier through the real radmfa binary
// ("radmfa plugin NAME").
func startBuiltin(t *testing.T, name string, settings map[string]any) (*Notifier, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	n, err := New(name, Config{Builtin: name, Settings: settings, Timeout: mfa.Duration(5 * time.Second)},
		Options{Logger: zerolog.New(log).With().Str("component", "plugin").Logger(), Executable: radmfaBin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		n.Close()
		if t.Failed() {
			t.Logf("log:\n%s", log)
		}
	})
	return n, log
}

func TestBuiltinCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin.json")
	prog := filepath.Join(dir, "send-sms")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ncat > \"$OUT\"\necho gw-42\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n, log := startBuiltin(t, "command", map[string]any{"path": prog, "env": []string{"OUT=" + out}})
	d, err := n.Notify(context.Background(), codeNote("alice", "135790"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "sent" || d.ID != "gw-42" {
		t.Fatalf("delivery %+v, want sent with id gw-42", d)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["code"] != "135790" || got["to"] != "+441234567889" || got["message"] != "Your code: 135790" {
		t.Fatalf("program got %s", b)
	}
	if strings.Contains(log.String(), "135790") {
		t.Fatalf("code in log:\n%s", log)
	}
	if !strings.Contains(log.String(), `"message":"command configured"`) {
		t.Fatalf("the built-in's log is missing:\n%s", log)
	}
}

func TestBuiltinWebhook(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(key, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "webhook.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, log := startBuiltin(t, "webhook", map[string]any{"url": srv.URL + "/radmfa", "secret_file": secretFile})
	for _, note := range []mfa.Notification{pushNote("alice"), codeNote("bob", "864209"), {Kind: mfa.NotifyAlert, User: "carol", Text: "locked"}} {
		d, err := n.Notify(context.Background(), note)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "sent" || !strings.HasPrefix(d.ID, "msg_") {
			t.Fatalf("%v: delivery %+v", note.Kind, d)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("receiver verified %d deliveries, want 3", len(bodies))
	}
	for i, want := range []string{"radmfa.push", "radmfa.code", "radmfa.alert"} {
		if bodies[i]["type"] != want {
			t.Errorf("delivery %d has type %v, want %s", i, bodies[i]["type"], want)
		}
	}
	push := bodies[0]["data"].(map[string]any)["push"].(map[string]any)
	if push["approval_url"] != approvalURL || push["resource"] != "VPN" {
		t.Errorf("push data %v", push)
	}
	if l := log.String(); strings.Contains(l, approvalURL) || strings.Contains(l, "864209") {
		t.Fatalf("secret in log:\n%s", l)
	}
}

func TestBuiltinRefusesBadSettings(t *testing.T) {
	tests := []struct {
		name     string
		builtin  string
		settings map[string]any
		want     string
	}{
		{"validated before start", "ntfy", map[string]any{"priority": 9}, "priority = 9"},
		{"unknown built-in", "pager", nil, `no built-in notifier "pager"`},
		{"checked by the plugin", "webhook", map[string]any{"url": "https://h.example.com/", "secret_file": "/nonexistent/secret"},
			"plugin x: configure built-in webhook: webhook: secret_file: open /nonexistent/secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New("x", Config{Builtin: tt.builtin, Settings: tt.settings}, Options{Logger: zerolog.Nop(), Executable: radmfaBin})
			if err == nil {
				defer n.Close()
				err = n.Start(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
