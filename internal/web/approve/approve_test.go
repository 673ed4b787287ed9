package approve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

// fixture runs the page over a real engine (in-memory store) with one
// pending challenge-flow push for a user with a hostile name.
type fixture struct {
	srv    *httptest.Server
	engine *mfa.Engine
	store  *mfatest.Store
	token  string
	logs   *bytes.Buffer
	key    []byte
}

const hostile = `<img src=x onerror=alert(1)>`

func newFixture(t *testing.T, variant mfa.PushVariant) *fixture {
	t.Helper()
	f := &fixture{store: mfatest.NewStore(), logs: &bytes.Buffer{}, key: []byte("0123456789abcdef0123456789abcdef")}
	f.store.AddUser(hostile, false, mfa.Device{Name: "app", Kind: mfa.DevicePush, Address: "t"})
	n := &mfatest.Notifier{}
	cfg := mfa.Config{Push: mfa.PushConfig{ApprovalURL: "https://mfa.example.com", Organisation: "Example & Co", Flow: mfa.FlowChallenge, Variant: variant}}
	cfg.Users.CaseSensitive = true
	e, err := mfa.New(f.store, cfg, mfa.WithNotifier(n), mfa.WithPushWaiter(mfa.NewBroker(f.store.PushOutcome)))
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	d, err := e.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: hostile,
		NAS: mfa.NAS{ClientName: "vpn", Identifier: "<b>VPN</b>", CallingStationID: "203.0.113.9"}})
	if err != nil || d.Action != mfa.ActionChallenge {
		t.Fatalf("push: %+v %v", d, err)
	}
	u := n.Messages()[0].Push.ApprovalURL.Reveal()
	f.token = u[strings.LastIndex(u, "/")+1:]
	f.srv = httptest.NewServer(New(e, f.key, zerolog.New(f.logs)))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (f *fixture) submit(t *testing.T, c *http.Client, form url.Values, withCSRF bool) (int, string) {
	t.Helper()
	_, body, _ := get(t, c, f.srv.URL+"/approve/"+f.token)
	if m := csrfRE.FindStringSubmatch(body); m != nil && withCSRF {
		form.Set("csrf", m[1])
	}
	resp, err := c.PostForm(f.srv.URL+"/approve/"+f.token, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPage(t *testing.T) {
	f := newFixture(t, mfa.VariantPlain)
	status, body, h := get(t, f.client(t), f.srv.URL+"/approve/"+f.token)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{
		`&lt;img src=x onerror=alert(1)&gt;`, `&lt;b&gt;VPN&lt;/b&gt;`, "Example &amp; Co", "203.0.113.9", `id="approve"`, `id="deny"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, hostile) || strings.Contains(body, "<b>VPN") {
		t.Fatal("page renders user input as HTML")
	}
	for k, v := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to something outside itself")
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name    string
		variant mfa.PushVariant
		form    func(p mfa.Push) url.Values
		csrf    bool
		status  int
		text    string
		outcome mfa.PushOutcome
	}{
		{"approve", mfa.VariantPlain, func(mfa.Push) url.Values { return url.Values{"action": {"approve"}} }, true, 200, "Approved", mfa.PushApproved},
		{"it wasn't me", mfa.VariantPlain, func(mfa.Push) url.Values { return url.Values{"action": {"deny_fraud"}} }, true, 200, "help desk has been told", mfa.PushDeniedFraud},
		{"mistake", mfa.VariantPlain, func(mfa.Push) url.Values { return url.Values{"action": {"deny_mistake"}} }, true, 200, "cancelled", mfa.PushDeniedOops},
		{"choose right", mfa.VariantChoose, func(p mfa.Push) url.Values { return url.Values{"action": {"approve"}, "number": {p.Number}} }, true, 200, "Approved", mfa.PushApproved},
		{"enter wrong", mfa.VariantEnter, func(p mfa.Push) url.Values { return url.Values{"action": {"approve"}, "number": {"1"}} }, true, 200, "not the number", mfa.PushWrongNumber},
		{"no csrf", mfa.VariantPlain, func(mfa.Push) url.Values { return url.Values{"action": {"approve"}} }, false, 403, "could not be verified", mfa.PushPending},
		{"no action", mfa.VariantPlain, func(mfa.Push) url.Values { return url.Values{} }, true, 400, "please try again", mfa.PushPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.variant)
			status, body := f.submit(t, f.client(t), tt.form(f.store.Pushes()[0]), tt.csrf)
			if status != tt.status || !strings.Contains(body, tt.text) {
				t.Fatalf("got %d %q, want %d and %q", status, body, tt.status, tt.text)
			}
			if got := f.store.Pushes()[0].Outcome; got != tt.outcome {
				t.Fatalf("outcome %s, want %s", got, tt.outcome)
			}
			if strings.Contains(f.logs.String(), f.token) {
				t.Fatal("the token reached the log")
			}
		})
	}
}

func TestSingleUseAndBadTokens(t *testing.T) {
	f := newFixture(t, mfa.VariantPlain)
	c := f.client(t)
	if status, _ := f.submit(t, c, url.Values{"action": {"approve"}}, true); status != 200 {
		t.Fatalf("first answer: %d", status)
	}
	tests := []struct {
		name, path string
		status     int
		text       string
	}{
		{"used token", "/approve/" + f.token, 410, "already answered"},
		{"forged token", "/approve/" + strings.Repeat("A", 22), 404, "not valid"},
		{"malformed token", "/approve/%3Cscript%3E", 404, "not valid"},
		{"short token", "/approve/abc", 404, "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := get(t, c, f.srv.URL+tt.path)
			if status != tt.status || !strings.Contains(body, tt.text) {
				t.Fatalf("got %d %q", status, body)
			}
		})
	}
}

func TestDenyAsksWhy(t *testing.T) {
	f := newFixture(t, mfa.VariantPlain)
	_, body, _ := get(t, f.client(t), f.srv.URL+"/approve/"+f.token+"?deny=1")
	if !strings.Contains(body, "It wasn't me") || !strings.Contains(body, "I made a mistake") || strings.Contains(body, `id="approve"`) {
		t.Fatalf("deny step: %s", body)
	}
}

func TestAPI(t *testing.T) {
	sign := func(f *fixture, method, path string, body []byte, ts time.Time, key []byte) *http.Request {
		r, _ := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
		s := strconv.FormatInt(ts.Unix(), 10)
		r.Header.Set(HeaderTimestamp, s)
		r.Header.Set(HeaderSignature, Sign(key, s, method, path, body))
		return r
	}
	tests := []struct {
		name    string
		do      func(f *fixture) *http.Request
		status  int
		want    string
		outcome mfa.PushOutcome
	}{
		{"view", func(f *fixture) *http.Request { return sign(f, "GET", "/api/v1/push/"+f.token, nil, time.Now(), f.key) }, 200, `"resource":"\u003cb\u003eVPN\u003c/b\u003e"`, mfa.PushPending},
		{"approve", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"approve"}`), time.Now(), f.key)
		}, 200, `"outcome":"approved"`, mfa.PushApproved},
		{"deny fraud", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"deny_fraud"}`), time.Now(), f.key)
		}, 200, `"outcome":"denied_fraud"`, mfa.PushDeniedFraud},
		{"wrong key", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"approve"}`), time.Now(), []byte("nope"))
		}, 401, "bad X-Radmfa-Signature", mfa.PushPending},
		{"stale timestamp", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"approve"}`), time.Now().Add(-10*time.Minute), f.key)
		}, 401, "stale", mfa.PushPending},
		{"signature for another body", func(f *fixture) *http.Request {
			r := sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"deny_mistake"}`), time.Now(), f.key)
			r.Body = io.NopCloser(strings.NewReader(`{"decision":"approve"}`))
			r.ContentLength = -1
			return r
		}, 401, "bad", mfa.PushPending},
		{"bad decision", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"maybe"}`), time.Now(), f.key)
		}, 400, "decision", mfa.PushPending},
		{"unknown field", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+f.token, []byte(`{"decision":"approve","x":1}`), time.Now(), f.key)
		}, 400, "body", mfa.PushPending},
		{"forged token", func(f *fixture) *http.Request {
			return sign(f, "POST", "/api/v1/push/"+strings.Repeat("A", 22), []byte(`{"decision":"approve"}`), time.Now(), f.key)
		}, 404, "no such push", mfa.PushPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, mfa.VariantPlain)
			resp, err := http.DefaultClient.Do(tt.do(f))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) || !json.Valid(b) {
				t.Fatalf("got %d %s, want %d %q", resp.StatusCode, b, tt.status, tt.want)
			}
			if got := f.store.Pushes()[0].Outcome; got != tt.outcome {
				t.Fatalf("outcome %s, want %s", got, tt.outcome)
			}
		})
	}
	t.Run("off without a key", func(t *testing.T) {
		f := newFixture(t, mfa.VariantPlain)
		srv := httptest.NewServer(New(f.engine, nil, zerolog.Nop()))
		defer srv.Close()
		resp, _ := http.Get(srv.URL + "/api/v1/push/" + f.token)
		if resp.StatusCode != 404 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func FuzzValidToken(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuv")
	f.Add("<script>")
	f.Fuzz(func(t *testing.T, s string) {
		if validToken(s) && (len(s) < 16 || strings.ContainsAny(s, "<>\"'/ ")) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestPublicMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"not found", fmt.Errorf("sqlite: select: %w", mfa.ErrPushNotFound), mfa.ErrPushNotFound.Error()},
		{"decided", fmt.Errorf("mfa: %w", mfa.ErrPushDecided), mfa.ErrPushDecided.Error()},
		{"expired", mfa.ErrPushExpired, mfa.ErrPushExpired.Error()},
		{"store failure", errors.New("sqlite: update: database is locked (/var/lib/radmfa/radmfa.db)"), "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publicMessage(tt.err); got != tt.want {
				t.Fatalf("publicMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
