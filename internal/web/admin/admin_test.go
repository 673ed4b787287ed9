package admin

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

var _ Reports = (*sqlite.Store)(nil)

const (
	testAdmin    = "admin"
	testPassword = "correct horse battery staple"
	xssUser      = `<img src=x onerror=alert(1)>`
)

// clock is a settable now for the handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a store on a temp file with events an hour old: alice (push
// approved, push denied), bob (a wrong code, a lockout), and a user whose
// name is HTML.
func fixture(t *testing.T) (*sqlite.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path}, sqlite.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ev := func(d time.Duration, tx, user string, r mfa.Result, m mfa.Method, msg, ip string) mfa.Event {
		return mfa.Event{Time: t0.Add(d), TxID: tx, User: user, Result: r, Method: m, Message: msg, FrontDoor: mfa.FrontDoorREST,
			Node: "r1", Client: "vpn", NASIdentifier: "gw1", CallingStationID: ip, Resource: "VPN"}
	}
	events := []mfa.Event{
		ev(0, "00000000000000a1", "alice", mfa.ResultChallenge, mfa.MethodPush, "push sent", "203.0.113.5"),
		ev(4*time.Second, "00000000000000a1", "alice", mfa.ResultSuccess, mfa.MethodPush, "push approved", "203.0.113.5"),
		ev(time.Minute, "00000000000000b2", "bob", mfa.ResultFailure, mfa.MethodTOTP, "wrong code", "198.51.100.7"),
		ev(2*time.Minute, "00000000000000c3", "bob", mfa.ResultFailure, mfa.MethodTOTP, sqlite.LockoutMessage, "198.51.100.7"),
		ev(3*time.Minute, "00000000000000d4", xssUser, mfa.ResultFailure, mfa.MethodNone, "unknown user <b>bold</b>", "=HYPERLINK(\"http://x\")"),
		ev(4*time.Minute, "00000000000000e5", "alice", mfa.ResultChallenge, mfa.MethodPush, "push sent", "203.0.113.5"),
		ev(4*time.Minute+9*time.Second, "00000000000000e5", "alice", mfa.ResultFailure, mfa.MethodPush, "push rejected by user: it wasn't me", "203.0.113.5"),
	}
	err = s.Update(ctx, func(tx mfa.Tx) error {
		for _, e := range events {
			if err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dev := mfa.Device{Name: "totp1", Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret("12345678901234567890")}
	if err := s.CreateUser(ctx, "root", "alice", dev); err != nil {
		t.Fatal(err)
	}
	// Pushes as radmfa serve stores them.
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, p := range []struct {
		tx, outcome string
		at, latency time.Duration
	}{{"00000000000000a1", sqlite.OutcomeApproved, 0, 4 * time.Second}, {"00000000000000e5", sqlite.OutcomeDeniedFraud, 4 * time.Minute, 9 * time.Second}} {
		created := t0.Add(p.at)
		_, err := db.Exec(`INSERT INTO pushes (tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow, resource, client,
			calling_station, nas_identifier, token_hash) VALUES (?, 'alice', ?, ?, ?, ?, 'plain', 'inline', 'VPN', 'vpn', '203.0.113.5', 'gw1', ?)`,
			p.tx, created.UnixMilli(), created.Add(25*time.Second).UnixMilli(), created.Add(p.latency).UnixMilli(), p.outcome, []byte(fmt.Sprint("t", i)))
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, t0
}

// credentialFile writes the test login (bcrypt at its lowest cost, to
// keep tests fast).
func credentialFile(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.htpasswd")
	if err := os.WriteFile(path, []byte("# radmfa admin\n"+testAdmin+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type testServer struct {
	*httptest.Server
	clock *clock
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	s, _ := fixture(t)
	c := &clock{t: time.Now()}
	h, err := newHandler(s, Config{CredentialFile: credentialFile(t)}, zerolog.Nop(), c.now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{srv, c}
}

// client is a browser-like HTTP client: cookies, no redirects followed.
func client(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// csrfFrom fetches the login form and returns its CSRF token.
func csrfFrom(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	_, body := get(t, c, base+"/login")
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no CSRF field in the login form:\n%s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func postLogin(t *testing.T, c *http.Client, base string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// login returns a client with a session.
func login(t *testing.T, srv *testServer) *http.Client {
	t.Helper()
	c := client(t)
	resp, body := postLogin(t, c, srv.URL, url.Values{"csrf": {csrfFrom(t, c, srv.URL)}, "name": {testAdmin}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s\n%s", resp.Status, body)
	}
	return c
}

func TestRefusedWithoutLogin(t *testing.T) {
	srv := newTestServer(t)
	tests := []struct {
		name, method, path string
		status             int
		location           string
	}{
		{"root", "GET", "/", http.StatusSeeOther, "/login?next=%2F"},
		{"activity", "GET", "/activity?result=failure", http.StatusSeeOther, "/login?next=%2Factivity%3Fresult%3Dfailure"},
		{"push", "GET", "/push", http.StatusSeeOther, "/login?next=%2Fpush"},
		{"summary", "GET", "/summary", http.StatusSeeOther, "/login?next=%2Fsummary"},
		{"transaction", "GET", "/transaction?id=00000000000000a1", http.StatusSeeOther, "/login?next="},
		{"audit", "GET", "/audit", http.StatusSeeOther, "/login?next=%2Faudit"},
		{"activity CSV", "GET", "/activity?format=csv", http.StatusUnauthorized, ""},
		{"push CSV", "GET", "/push?format=csv", http.StatusUnauthorized, ""},
		{"summary CSV", "GET", "/summary?format=csv", http.StatusUnauthorized, ""},
		{"series CSV", "GET", "/summary?format=csv&series=1", http.StatusUnauthorized, ""},
		{"audit CSV", "GET", "/audit?format=csv", http.StatusUnauthorized, ""},
		{"logout", "POST", "/logout", http.StatusUnauthorized, ""},
	}
	for _, cookie := range []string{"", "forged-session-value"} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/cookie=%q", tt.name, cookie), func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
				}
				resp, err := client(t).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Location"), tt.location) {
					t.Fatalf("got %s, Location %q; want %d, %q", resp.Status, resp.Header.Get("Location"), tt.status, tt.location)
				}
				for _, secret := range []string{"alice", "198.51.100.7", "wrong code"} {
					if strings.Contains(string(body), secret) {
						t.Fatalf("the refusal shows %q:\n%s", secret, body)
					}
				}
			})
		}
	}
}

func TestLogin(t *testing.T) {
	srv := newTestServer(t)
	t.Run("form", func(t *testing.T) {
		c := client(t)
		resp, body := get(t, c, srv.URL+"/login?next=/push")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="next" value="/push"`) {
			t.Fatalf("%s\n%s", resp.Status, body)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Fatalf("the page must load nothing from elsewhere and run no script: CSP %q\n%s", csp, body)
		}
	})
	tests := []struct {
		name   string
		form   func(csrf string) url.Values
		status int
		want   string
	}{
		{"no CSRF token", func(string) url.Values {
			return url.Values{"name": {testAdmin}, "password": {testPassword}}
		}, http.StatusForbidden, "The form expired"},
		{"wrong CSRF token", func(string) url.Values {
			return url.Values{"csrf": {"x"}, "name": {testAdmin}, "password": {testPassword}}
		}, http.StatusForbidden, "The form expired"},
		{"wrong password", func(c string) url.Values {
			return url.Values{"csrf": {c}, "name": {testAdmin}, "password": {"guess"}}
		}, http.StatusUnauthorized, "Wrong name or password."},
		{"wrong name", func(c string) url.Values {
			return url.Values{"csrf": {c}, "name": {"root"}, "password": {testPassword}}
		}, http.StatusUnauthorized, "Wrong name or password."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t)
			resp, body := postLogin(t, c, srv.URL, tt.form(csrfFrom(t, c, srv.URL)))
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("got %s, want %d with %q:\n%s", resp.Status, tt.status, tt.want, body)
			}
			for _, ck := range c.Jar.Cookies(mustURL(srv.URL)) {
				if ck.Name == sessionCookie {
					t.Fatal("a failed login set a session cookie")
				}
			}
		})
	}
	t.Run("success", func(t *testing.T) {
		c := client(t)
		resp, _ := postLogin(t, c, srv.URL, url.Values{"csrf": {csrfFrom(t, c, srv.URL)}, "name": {testAdmin}, "password": {testPassword},
			"next": {"//evil.example/phish"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/summary" {
			t.Fatalf("got %s to %q, want 303 to /summary (never off-site)", resp.Status, resp.Header.Get("Location"))
		}
		var sc *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				sc = ck
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || len(sc.Value) < 40 {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, 256 random bits", sc)
		}
		resp, body := get(t, c, srv.URL+"/summary")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Summary per nas") {
			t.Fatalf("%s\n%s", resp.Status, body)
		}
	})
	t.Run("throttled after failures", func(t *testing.T) {
		c := client(t)
		for i := 0; i < maxFailures; i++ {
			postLogin(t, c, srv.URL, url.Values{"csrf": {csrfFrom(t, c, srv.URL)}, "name": {testAdmin}, "password": {"guess"}})
		}
		resp, body := postLogin(t, c, srv.URL, url.Values{"csrf": {csrfFrom(t, c, srv.URL)}, "name": {testAdmin}, "password": {testPassword}})
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
			t.Fatalf("got %s, want 429 even with the right password:\n%s", resp.Status, body)
		}
		srv.clock.add(failureWindow)
		resp, _ = postLogin(t, c, srv.URL, url.Values{"csrf": {csrfFrom(t, c, srv.URL)}, "name": {testAdmin}, "password": {testPassword}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("got %s after the window passed, want 303", resp.Status)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSessionEnds(t *testing.T) {
	t.Run("expiry", func(t *testing.T) {
		srv := newTestServer(t)
		c := login(t, srv)
		srv.clock.add(DefaultSessionLifetime)
		resp, _ := get(t, c, srv.URL+"/activity")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("got %s after the session's lifetime, want a redirect to the login", resp.Status)
		}
	})
	t.Run("logout", func(t *testing.T) {
		srv := newTestServer(t)
		c := login(t, srv)
		_, body := get(t, c, srv.URL+"/activity")
		i := strings.Index(body, `action="/logout"><input type="hidden" name="csrf" value="`)
		if i < 0 {
			t.Fatalf("no logout form:\n%s", body)
		}
		rest := body[i+len(`action="/logout"><input type="hidden" name="csrf" value="`):]
		token := rest[:strings.IndexByte(rest, '"')]
		resp, err := c.PostForm(srv.URL+"/logout", url.Values{"csrf": {"wrong"}})
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("logout without the form's token: %v %v", resp.Status, err)
		}
		resp, err = c.PostForm(srv.URL+"/logout", url.Values{"csrf": {token}})
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %v %v", resp.Status, err)
		}
		if resp, _ := get(t, c, srv.URL+"/activity?format=csv"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("CSV after logout: %s, want 401", resp.Status)
		}
	})
}

func TestPages(t *testing.T) {
	srv := newTestServer(t)
	c := login(t, srv)
	tests := []struct {
		name, path string
		status     int
		want       []string
		not        []string
	}{
		{"activity escapes user names", "/activity", 200,
			[]string{"&lt;img src=x onerror=alert(1)&gt;", "unknown user &lt;b&gt;bold&lt;/b&gt;", "=HYPERLINK(&#34;http://x&#34;)", "wrong code"},
			[]string{"<img", "<b>bold"}},
		{"activity filtered", "/activity?user=ALICE&result=failure", 200, []string{"push rejected by user: it wasn&#39;t me"}, []string{"bob", "wrong code", "push approved"}},
		{"activity page", "/activity?limit=2", 200, []string{"Older »", "before="}, nil},
		{"bad since", "/activity?since=yesterdayish", 400, []string{`&#34;yesterdayish&#34; is neither a duration`}, []string{"wrong code"}},
		{"bad limit", "/push?limit=0", 400, []string{"limit &#34;0&#34;: want 1 to 10000"}, nil},
		{"bad outcome", "/push?result=maybe", 400, []string{"unknown push outcome"}, nil},
		{"push", "/push", 200, []string{"denied: it wasn&#39;t me", "9.0 s", "approved", "4.0 s"}, nil},
		{"summary with chart", "/summary?since=2h", 200, []string{`<svg class="chart"`, `<rect class="failure"`, "Top failures", "account locked (1)", "unknown user &lt;b&gt;bold&lt;/b&gt; (1)"}, nil},
		{"summary per user", "/summary?per=user&since=2h", 200, []string{"&lt;img src=x onerror=alert(1)&gt;", "bob"}, []string{"<img"}},
		{"summary by hour", "/summary?since=2d&by=hour", 200, []string{"Outcomes per hour"}, nil},
		{"bad per", "/summary?per=device", 400, []string{"cannot summarise per"}, nil},
		{"transaction", "/transaction?id=00000000000000e5", 200, []string{"push sent", "denied: it wasn&#39;t me"}, nil},
		{"unknown transaction", "/transaction?id=%3Cscript%3E", 404, []string{"No transaction &#34;&lt;script&gt;&#34;."}, []string{"<script"}},
		{"audit", "/audit?user=alice", 200, []string{"user.add", "root"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, c, srv.URL+tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("got %s, want %d:\n%s", resp.Status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("page contains %q", n)
				}
			}
			if t.Failed() {
				t.Log(body)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	srv := newTestServer(t)
	c := login(t, srv)
	tests := []struct {
		path   string
		header []string
		rows   int
		cell   string // a cell that must be there
	}{
		{"/activity?format=csv", sqlite.EventColumns, 7, `'=HYPERLINK("http://x")`},
		{"/activity?format=csv&user=bob", sqlite.EventColumns, 2, sqlite.LockoutMessage},
		{"/push?format=csv", sqlite.PushColumns, 2, "denied: it wasn't me"},
		{"/summary?format=csv&since=2h", append([]string{"nas"}, sqlite.SummaryColumns...), 1, "vpn"},
		{"/summary?format=csv&series=1&since=2h&by=hour", sqlite.SeriesColumns, 3, "4"},
		{"/audit?format=csv", sqlite.AuditColumns, 1, "user.add"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, c, srv.URL+tt.path)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
				!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
				t.Fatalf("%s %q %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
			}
			recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(recs[0], ",") != strings.Join(tt.header, ",") || len(recs)-1 < tt.rows {
				t.Fatalf("header %v and %d rows, want %v and %d:\n%s", recs[0], len(recs)-1, tt.header, tt.rows, body)
			}
			found := false
			for _, r := range recs[1:] {
				for _, cell := range r {
					found = found || cell == tt.cell
				}
			}
			if !found {
				t.Fatalf("no cell %q:\n%s", tt.cell, body)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"default", Config{}, ""},
		{"a day", Config{SessionLifetime: mfa.Duration(24 * time.Hour)}, ""},
		{"too short", Config{SessionLifetime: mfa.Duration(time.Minute)}, "admin.session_lifetime = 1m0s: must be between 5m and 7d"},
		{"too long", Config{SessionLifetime: mfa.Duration(30 * 24 * time.Hour)}, "must be between 5m and 7d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
}

func TestCredentialFile(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	tests := []struct {
		name, content, err string
	}{
		{"htpasswd line", "admin:" + string(hash) + "\n", ""},
		{"plain password", "admin:hunter2\n", "must be a bcrypt hash"},
		{"no name", ":" + string(hash), `want one line "name:bcrypt-hash"`},
		{"empty", "# nothing\n\n", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			os.WriteFile(path, []byte(tt.content), 0o600)
			_, err := New(nil, Config{CredentialFile: path}, zerolog.Nop())
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := New(nil, Config{CredentialFile: filepath.Join(dir, "nope")}, zerolog.Nop()); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("not configured", func(t *testing.T) {
		if _, err := New(nil, Config{}, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "no credential_file") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestChart(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	pts := []sqlite.SeriesPoint{{Start: t0, Successes: 3, Failures: 1}, {Start: t0.Add(time.Hour)}, {Start: t0.Add(2 * time.Hour), Challenges: 7}}
	c := newChart(pts, time.Hour)
	if c.Empty || len(c.Bars) != 3 || len(c.Bars[0].Segs) != 2 || len(c.Bars[1].Segs) != 0 || c.YTicks[2].Text != "10" {
		t.Fatalf("%+v", c)
	}
	if got := c.Bars[0].Segs[0]; got.Class != "success" || got.Y+got.H != c.Bottom {
		t.Fatalf("first segment %+v: want successes standing on the axis", got)
	}
	if !newChart(nil, time.Hour).Empty || !newChart(pts[1:2], time.Hour).Empty {
		t.Fatal("a chart without events is not Empty")
	}
	for _, tt := range []struct{ in, want int64 }{{0, 1}, {1, 1}, {3, 5}, {7, 10}, {11, 20}, {180, 200}, {201, 500}} {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ next, want string }{
		{"/activity?result=failure", "/activity?result=failure"},
		{"/", "/"},
		{"", "/summary"},
		{"https://evil.example/", "/summary"},
		{"//evil.example", "/summary"},
		{"/\\evil.example", "/summary"},
		{"/\t/evil.example", "/summary"},
		{"/\n/evil.example", "/summary"},
		{"/ /evil.example", "/summary"},
		{"/login?next=/x", "/summary"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.next), func(t *testing.T) {
			if got := safeNext(tt.next); got != tt.want {
				t.Fatalf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}
