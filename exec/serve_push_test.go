package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

// pushServer runs serve in-process with the approval page on and a fake
// notifier; alice has a TOTP device and a push device.
func pushServer(t *testing.T, push mfa.PushConfig) (*server, string, string, *mfatest.Notifier) {
	t.Helper()
	dir := t.TempDir()
	if _, stderr, code := radmfa(t, dir, testSecret+"\n", "user", "add", "alice", "--secret", "-", "--json"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := radmfa(t, dir, "", "device", "add", "alice", "--push", "--to", "alice-topic", "--device", "app"); code != 0 {
		t.Fatal(stderr)
	}
	cfg := &config{DataDir: dir}
	cfg.Store.Path = filepath.Join(dir, "radmfa.db")
	cfg.Serve.Listen = []string{"127.0.0.1:0"}
	cfg.Approval.Listen = "127.0.0.1:0"
	push.ApprovalURL = "http://approval.invalid"
	cfg.Push = push
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	n := &mfatest.Notifier{}
	s, err := startServer(context.Background(), cfg, zerolog.Nop(), serverOptions{notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown(5 * time.Second) })
	return s, "http://" + s.listeners[0].Addr().String(), "http://" + s.listeners[1].Addr().String(), n
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// approveVia answers a push on the real approval page, as a phone would.
func approveVia(t *testing.T, pageBase string, n mfa.Notification, action, number string) int {
	t.Helper()
	u := n.Push.ApprovalURL.Reveal()
	path := u[strings.Index(u, "/approve/"):]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(pageBase + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no form on the page (%d): %s", resp.StatusCode, body)
	}
	form := url.Values{"csrf": {m[1]}, "action": {action}}
	if number != "" {
		form.Set("number", number)
	}
	resp, err = c.PostForm(pageBase+path, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServePushInline(t *testing.T) {
	_, api, page, n := pushServer(t, mfa.PushConfig{})
	n.OnNotify = func(m mfa.Notification) {
		if m.Kind == mfa.NotifyPush {
			go func() {
				time.Sleep(100 * time.Millisecond)
				approveVia(t, page, m, "approve", "")
			}()
		}
	}
	start := time.Now()
	status, m := post(t, api, restBody("alice", ""))
	if status != 200 || m["control:Auth-Type"]["value"] != "Accept" {
		t.Fatalf("inline push: %d %v", status, m)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered %s after the approval: the wait did not wake at once", took)
	}
	if msgs := n.Messages(); len(msgs) != 1 || msgs[0].To != "alice-topic" {
		t.Fatalf("notifications %+v", msgs)
	}
}

func TestServePushChallengeNumber(t *testing.T) {
	s, api, page, n := pushServer(t, mfa.PushConfig{Flow: mfa.FlowChallenge, Variant: mfa.VariantEnter})
	status, m := post(t, api, restBody("alice", "p"))
	msg, _ := m["reply:Reply-Message"]["value"].(string)
	state, _ := m["reply:State"]["value"].(string)
	if status != 200 || !strings.Contains(msg, "by entering ") {
		t.Fatalf("challenge: %d %v", status, m)
	}
	number := strings.Fields(msg[strings.Index(msg, "entering ")+len("entering "):])[0]
	number = strings.TrimSuffix(number, ",")
	if code := approveVia(t, page, n.Messages()[0], "approve", number); code != 200 {
		t.Fatalf("approval page answered %d", code)
	}
	status, m = post(t, api, restBody("alice", "", `"State":{"type":"octets","value":["`+state+`"]}`))
	if status != 200 || m["control:Auth-Type"]["value"] != "Accept" {
		t.Fatalf("answer: %d %v", status, m)
	}
	_ = s
}

func TestServeDrainWhileWaiting(t *testing.T) {
	s, api, _, n := pushServer(t, mfa.PushConfig{})
	done := make(chan int, 1)
	go func() {
		status, _ := post(t, api, restBody("alice", ""))
		done <- status
	}()
	waitUntil(t, func() bool { return len(n.Messages()) == 1 && s.broker.Waiting() == 1 })
	s.handler.Drain()
	select {
	case status := <-done:
		if status != 403 {
			t.Fatalf("status %d, want 403 (no reply)", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request was not answered at shutdown")
	}
	n2, _ := s.store.PendingPushes(context.Background())
	if n2 != 1 {
		t.Fatalf("%d pending pushes, want 1: the push must survive for the retransmission", n2)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}
