package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/plugin"
)

const (
	// The Standard Webhooks reference vector.
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

	testURL  = "https://mfa.example.com/approve/dG9rZW4tMTIzNDU2Nzg5MA"
	testCode = "493817"
)

func TestSignVector(t *testing.T) {
	key, err := ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("Sign = %s, want %s", got, vectorSig)
	}
}

// receiver is a webhook endpoint that verifies each delivery the way the
// spec says, independently of Verify, and keeps the bodies.
type receiver struct {
	t      *testing.T
	key    []byte
	mu     sync.Mutex
	bodies [][]byte
	ids    []string
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	m := hmac.New(sha256.New, rc.key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	sec, err := strconv.ParseInt(ts, 10, 64)
	if sig != want || err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute || !strings.HasPrefix(id, "msg_") {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if err := Verify(rc.key, r.Header, body, time.Now(), 0); err != nil {
		http.Error(w, "Verify: "+err.Error(), http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.ids = append(rc.ids, id)
	status := rc.status
	rc.mu.Unlock()
	if status != 0 {
		http.Error(w, "gateway says no to "+testCode, status)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func configured(t *testing.T, url, secret string) *Notifier {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"url": url, "secret_file": secretFile(t, secret), "timeout": "2s"})
	n := New(slog.New(slog.DiscardHandler))
	if _, err := n.Configure(context.Background(), &plugin.ConfigureRequest{Settings: b}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliver(t *testing.T) {
	key, _ := ParseSecret(vectorSecret)
	rc := &receiver{t: t, key: key}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n := configured(t, srv.URL+"/hook", vectorSecret)
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		req  *plugin.NotifyRequest
		want string // the body's JSON, timestamp aside
	}{
		{"push", &plugin.NotifyRequest{Kind: plugin.KindPush, User: "alice & co", Text: "Sign in <VPN>?",
			Push: &plugin.Push{ApprovalURL: testURL + "?a=1&b=2", Resource: "VPN", ClientIP: "192.0.2.7", RequestTime: t0,
				Expires: t0.Add(25 * time.Second), Variant: "ack", RequestCode: "42"}},
			`{"type":"radmfa.push","data":{"kind":"push","user":"alice & co","message":"Sign in <VPN>?\nApprove or deny: ` + testURL + `?a=1&b=2","push":{"approval_url":"` + testURL + `?a=1&b=2","resource":"VPN","client_ip":"192.0.2.7","request_time":"2026-03-04T05:06:07Z","expires":"2026-03-04T05:06:32Z","variant":"ack","request_code":"42"}}}`},
		{"code", &plugin.NotifyRequest{Kind: plugin.KindCode, User: "bob", To: "+441234567889", Text: "Code {code}", Code: testCode},
			`{"type":"radmfa.code","data":{"kind":"code","user":"bob","to":"+441234567889","message":"Code ` + testCode + `","code":"` + testCode + `"}}`},
		{"alert", &plugin.NotifyRequest{Kind: plugin.KindAlert, User: "carol", Subject: "Fraud", Text: "denied"},
			`{"type":"radmfa.alert","data":{"kind":"alert","user":"carol","subject":"Fraud","message":"denied"}}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := n.Notify(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			rc.mu.Lock()
			if len(rc.bodies) != i+1 {
				rc.mu.Unlock()
				t.Fatalf("response %+v; receiver accepted %d deliveries, want %d", resp, len(rc.bodies), i+1)
			}
			body, id := rc.bodies[i], rc.ids[i]
			rc.mu.Unlock()
			if resp.Status != plugin.StatusSent || resp.ID != id || resp.Detail != "delivered: 202 Accepted" {
				t.Fatalf("response %+v, want sent with id %s", resp, id)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			ts, err := time.Parse(time.RFC3339Nano, got["timestamp"].(string))
			if err != nil || time.Since(ts) > time.Minute {
				t.Fatalf("timestamp %v: %v", got["timestamp"], err)
			}
			delete(got, "timestamp")
			norm, _ := json.Marshal(got)
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			wantNorm, _ := json.Marshal(want)
			if string(norm) != string(wantNorm) {
				t.Fatalf("body\n%s\nwant\n%s", norm, wantNorm)
			}
		})
	}
	t.Run("ids are unique", func(t *testing.T) {
		seen := map[string]bool{}
		for _, id := range rc.ids {
			if seen[id] || len(id) != len("msg_")+26 {
				t.Fatalf("id %q repeated or malformed", id)
			}
			seen[id] = true
		}
	})
}

func TestDeliveryFailures(t *testing.T) {
	key, _ := ParseSecret(vectorSecret)
	req := &plugin.NotifyRequest{Kind: plugin.KindCode, User: "u", Code: testCode}
	tests := []struct {
		name   string
		secret string // the sender's
		status int    // the receiver's answer
		want   string
	}{
		{"wrong secret", "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-of-24-byte")), 0, "401 Unauthorized: bad signature"},
		{"receiver error", vectorSecret, http.StatusInternalServerError, "500 Internal Server Error: gateway says no to [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&receiver{t: t, key: key, status: tt.status})
			defer srv.Close()
			resp, err := configured(t, srv.URL, tt.secret).Notify(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != plugin.StatusFailed || !strings.Contains(resp.Detail, tt.want) {
				t.Fatalf("response %+v, want failed containing %q", resp, tt.want)
			}
		})
	}
	t.Run("redirect is a failure", func(t *testing.T) {
		srv := httptest.NewServer(http.RedirectHandler("https://elsewhere.example.com/", http.StatusFound))
		defer srv.Close()
		resp, err := configured(t, srv.URL, vectorSecret).Notify(context.Background(), req)
		if err != nil || resp.Status != plugin.StatusFailed || !strings.Contains(resp.Detail, "302 Found") {
			t.Fatalf("got %+v, %v; want a failed delivery", resp, err)
		}
	})
}

func TestVerify(t *testing.T) {
	key, _ := ParseSecret(vectorSecret)
	at := time.Unix(vectorTS, 0)
	header := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{HeaderID: id, HeaderTimestamp: ts, HeaderSignature: sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	ts := strconv.Itoa(vectorTS)
	tests := []struct {
		name string
		h    http.Header
		body string
		now  time.Time
		want string // "" valid
	}{
		{"vector", header(vectorID, ts, vectorSig), vectorBody, at, ""},
		{"rotation: second signature matches", header(vectorID, ts, "v1,Zm9v "+vectorSig), vectorBody, at, ""},
		{"v1a entries are skipped", header(vectorID, ts, "v1a,Zm9v "+vectorSig), vectorBody, at, ""},
		{"within tolerance", header(vectorID, ts, vectorSig), vectorBody, at.Add(4 * time.Minute), ""},
		{"too old", header(vectorID, ts, vectorSig), vectorBody, at.Add(6 * time.Minute), "timestamp is 6m0s away"},
		{"from the future", header(vectorID, ts, vectorSig), vectorBody, at.Add(-6 * time.Minute), "away from now"},
		{"tampered body", header(vectorID, ts, vectorSig), `{"test": 2432232315}`, at, "no matching v1 signature"},
		{"other id", header("msg_other", ts, vectorSig), vectorBody, at, "no matching"},
		{"missing signature", header(vectorID, ts, ""), vectorBody, at, "missing"},
		{"missing id", header("", ts, vectorSig), vectorBody, at, "missing"},
		{"timestamp not a number", header(vectorID, "soon", vectorSig), vectorBody, at, "not Unix seconds"},
		{"signed timestamp", header(vectorID, "+"+ts, vectorSig), vectorBody, at, "not Unix seconds"},
		{"dot in id", header("msg.x", ts, vectorSig), vectorBody, at, "full stop"},
		{"malformed signature", header(vectorID, ts, "v1"), vectorBody, at, `want "version,base64"`},
		{"v1 only as v1a", header(vectorID, ts, strings.Replace(vectorSig, "v1,", "v1a,", 1)), vectorBody, at, "no matching"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(key, tt.h, []byte(tt.body), tt.now, 0)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" valid
	}{
		{"vector", vectorSecret, ""},
		{"64 bytes", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64)), ""},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `start with "whsec_"`},
		{"not base64", "whsec_!!!", "not valid base64"},
		{"short", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)), "16 bytes: want 24 to 64"},
		{"long", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), "65 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSecret(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), tt.in[min(len(tt.in), 6):]) && len(tt.in) > 10 {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestParseSignatureHeader(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // versions; nil: error
	}{
		{"one", "v1,Zm9v", []string{"v1"}},
		{"two", "v1,Zm9v  v1a,YmFy", []string{"v1", "v1a"}},
		{"empty", "", nil},
		{"spaces", "   ", nil},
		{"no comma", "v1Zm9v", nil},
		{"empty value", "v1,", nil},
		{"empty version", ",Zm9v", nil},
		{"bad base64", "v1,Zm9", nil},
		{"too many", strings.Repeat("v1,Zm9v ", 17), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs, err := ParseSignatureHeader(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got %v, want an error", sigs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var versions []string
			for _, s := range sigs {
				versions = append(versions, s.Version)
			}
			if strings.Join(versions, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("versions %v, want %v", versions, tt.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, in string
		want     string
	}{
		{"valid", `{"url":"https://hooks.example.com/x","secret_file":"/s"}`, ""},
		{"loopback http", `{"url":"http://127.0.0.1:9/x","secret_file":"/s","timeout":"30s"}`, ""},
		{"no url", `{"secret_file":"/s"}`, "url is required"},
		{"remote http", `{"url":"http://hooks.example.com/x","secret_file":"/s"}`, "loopback"},
		{"no secret", `{"url":"https://hooks.example.com/x"}`, "secret_file is required"},
		{"unknown", `{"url":"https://h/x","secret_file":"/s","secret":"whsec_x"}`, `unknown field "secret"`},
		{"timeout", `{"url":"https://h/x","secret_file":"/s","timeout":"-1s"}`, "timeout"},
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
	t.Run("bad secret file", func(t *testing.T) {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte("hunter2hunter2hunter2\n"), 0o600)
		b, _ := json.Marshal(map[string]string{"url": "https://h/x", "secret_file": p})
		_, err := New(slog.New(slog.DiscardHandler)).Configure(context.Background(), &plugin.ConfigureRequest{Settings: b})
		if err == nil || !strings.Contains(err.Error(), "whsec_") || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("got %v, want a whsec_ error without the file's content", err)
		}
	})
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range []string{vectorSig, "v1,Zm9v v1a,YmFy", "", "v1,", ",x", "v1,Zm9v\tv2,YQ=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		sigs, err := ParseSignatureHeader(h)
		if err != nil {
			return
		}
		if len(sigs) == 0 || len(sigs) > maxSignatures {
			t.Fatalf("%d signatures from %q", len(sigs), h)
		}
		for _, s := range sigs {
			if s.Version == "" || strings.ContainsAny(s.Version, " \t\n") {
				t.Fatalf("version %q from %q", s.Version, h)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorID, strconv.Itoa(vectorTS), vectorSig, []byte(vectorBody))
	f.Add("msg_x", "0", "v1,AAAA", []byte("{}"))
	key, _ := ParseSecret(vectorSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if Verify(key, h, body, time.Unix(vectorTS, 0), 0) == nil {
			// Only the genuine signature verifies.
			sec, _ := strconv.ParseInt(ts, 10, 64)
			if want := Sign(key, id, time.Unix(sec, 0), body); !strings.Contains(sig, want) {
				t.Fatalf("accepted %q for id %q ts %q", sig, id, ts)
			}
		}
	})
}

func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{vectorSecret, "whsec_", "whsec_====", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseSecret(s)
		if err == nil && (len(key) < MinSecretBytes || len(key) > MaxSecretBytes) {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
	})
}
