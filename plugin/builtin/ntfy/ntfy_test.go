package ntfy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

const (
	testURL  = "https://mfa.example.com/approve/dG9rZW4tMTIzNDU2Nzg5MA"
	testCode = "493817"
)

// fakeNtfy stands in for an ntfy server: it records each publish and
// answers like ntfy (or with status when set).
type fakeNtfy struct {
	mu       sync.Mutex
	bodies   []map[string]any
	auth     []string
	paths    []string
	status   int
	response string
}

func (f *fakeNtfy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil {
		http.Error(w, "bad publish", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.paths = append(f.paths, r.URL.Path)
	status, resp := f.status, f.response
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, resp, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"hwQ2YpKdmg","time":1700000000,"event":"message","topic":"x"}`)
}

func configured(t *testing.T, settings map[string]any) *Notifier {
	t.Helper()
	b, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	n := New(slog.New(slog.DiscardHandler))
	n.loc = time.UTC
	if _, err := n.Configure(context.Background(), &plugin.ConfigureRequest{Name: "phone", Settings: b}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublish(t *testing.T) {
	fake := &fakeNtfy{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("tk_secret123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := configured(t, map[string]any{"server": srv.URL, "topic": "radmfa-ops", "token_file": token})
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		req  *plugin.NotifyRequest
		want map[string]any
	}{
		{"push", &plugin.NotifyRequest{Kind: plugin.KindPush, User: "alice", To: "alice-k3x9",
			Push: &plugin.Push{ApprovalURL: testURL, Resource: "VPN", Organisation: "Example", ClientIP: "192.0.2.7",
				RequestTime: t0, Expires: t0.Add(25 * time.Second), Variant: "ack", RequestCode: "42"}},
			map[string]any{
				"topic": "alice-k3x9", "title": "Sign-in request: VPN", "priority": 4.0, "tags": []any{"lock"},
				"message": "alice is signing in to VPN (Example).\nFrom: 192.0.2.7\nTime: 2026-03-04 05:06:07 UTC\nRequest code: 42\nExpires: 05:06:32 UTC",
				"click":   testURL,
				"actions": []any{map[string]any{"action": "view", "label": "Approve or deny", "url": testURL, "clear": true}},
			}},
		{"push choose hides the number", &plugin.NotifyRequest{Kind: plugin.KindPush, User: "bob",
			Push: &plugin.Push{ApprovalURL: testURL, Variant: "choose", RequestCode: "17"}},
			map[string]any{"topic": "radmfa-ops", "title": "Sign-in request", "message": "bob is signing in."}},
		{"code", &plugin.NotifyRequest{Kind: plugin.KindCode, User: "carol", Text: "Your code is {code}", Code: testCode},
			map[string]any{"topic": "radmfa-ops", "title": "Your sign-in code", "message": "Your code is " + testCode, "tags": []any{"key"}}},
		{"alert", &plugin.NotifyRequest{Kind: plugin.KindAlert, User: "dave", Subject: "Fraud report", Text: "dave denied a push: it wasn't me"},
			map[string]any{"topic": "radmfa-ops", "title": "Fraud report", "message": "dave denied a push: it wasn't me", "tags": []any{"warning"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := n.Notify(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != plugin.StatusSent || resp.ID != "hwQ2YpKdmg" {
				t.Fatalf("response %+v, want sent with ntfy's id", resp)
			}
			fake.mu.Lock()
			got, auth, path := fake.bodies[i], fake.auth[i], fake.paths[i]
			fake.mu.Unlock()
			if path != "/" || auth != "Bearer tk_secret123" {
				t.Fatalf("POST %s with %q, want / with the token", path, auth)
			}
			for k, v := range tt.want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			if tt.req.Kind != plugin.KindPush {
				if _, ok := got["actions"]; ok {
					t.Errorf("%v message has actions", tt.req.Kind)
				}
			}
		})
	}
}

func TestPublishFailures(t *testing.T) {
	fake := &fakeNtfy{status: http.StatusForbidden, response: "forbidden: topic radmfa-ops, code " + testCode}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	req := &plugin.NotifyRequest{Kind: plugin.KindCode, User: "u", Code: testCode}
	tests := []struct {
		name     string
		settings map[string]any
		req      *plugin.NotifyRequest
		status   plugin.Status
		want     string
	}{
		{"refused", map[string]any{"server": srv.URL, "topic": "radmfa-ops"}, req, plugin.StatusFailed, "ntfy: server answered 403 Forbidden: forbidden: topic radmfa-ops, code [redacted]"},
		{"server down", map[string]any{"server": "http://127.0.0.1:1", "topic": "t"}, req, plugin.StatusFailed, "connection refused"},
		{"no topic", map[string]any{"server": srv.URL}, req, 0, "no topic"},
		{"bad topic in To", map[string]any{"server": srv.URL}, &plugin.NotifyRequest{Kind: plugin.KindCode, To: "../x", Code: "1"}, 0, "want only letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := configured(t, tt.settings)
			resp, err := n.Notify(context.Background(), tt.req)
			if tt.status == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, %v; want an error containing %q", resp, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || !strings.Contains(resp.Detail, tt.want) {
				t.Fatalf("response %+v, want %v containing %q", resp, tt.status, tt.want)
			}
			if strings.Contains(resp.Detail, testCode) {
				t.Fatalf("detail holds the code: %s", resp.Detail)
			}
		})
	}
	t.Run("not configured", func(t *testing.T) {
		if _, err := New(slog.New(slog.DiscardHandler)).Notify(context.Background(), req); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}))
		defer slow.Close()
		n := configured(t, map[string]any{"server": slow.URL, "topic": "t", "timeout": "200ms"})
		start := time.Now()
		resp, err := n.Notify(context.Background(), req)
		if err != nil || resp.Status != plugin.StatusFailed {
			t.Fatalf("got %+v, %v; want a failed delivery", resp, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("took %v", el)
		}
	})
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" valid
	}{
		{"empty", `{}`, ""},
		{"full", `{"server":"https://ntfy.example.com","topic":"radmfa_1-x","token_file":"/t","priority":5,"timeout":"5s"}`, ""},
		{"loopback http", `{"server":"http://127.0.0.1:8080"}`, ""},
		{"unknown key", `{"topik":"x"}`, `unknown field "topik"`},
		{"remote http", `{"server":"http://ntfy.example.com"}`, "http is allowed only to a loopback address"},
		{"relative server", `{"server":"ntfy.sh"}`, "want an absolute URL"},
		{"credentials in url", `{"server":"https://u:p@ntfy.sh"}`, "no credentials"},
		{"topic with slash", `{"topic":"a/b"}`, "want only letters"},
		{"long topic", `{"topic":"` + strings.Repeat("a", 65) + `"}`, "1 to 64"},
		{"priority", `{"priority":6}`, "priority = 6"},
		{"timeout", `{"timeout":"1h"}`, "timeout = 1h0m0s"},
		{"wrong type", `{"priority":"high"}`, "priority: want int"},
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
	t.Run("missing token file", func(t *testing.T) {
		n := New(slog.New(slog.DiscardHandler))
		_, err := n.Configure(context.Background(), &plugin.ConfigureRequest{Settings: []byte(`{"token_file":"/nonexistent/token"}`)})
		if err == nil || !strings.Contains(err.Error(), "token_file") {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{}`, `{"topic":"a-b_c"}`, `{"server":"http://[::1]:80","priority":3}`, `{"topic":"ä"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Topic != "" && checkTopic(c.Topic) != nil {
			t.Fatalf("accepted topic %q", c.Topic)
		}
	})
}
