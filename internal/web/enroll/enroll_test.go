package enroll

import (
	"context"
	"encoding/base32"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/ldapdir"
	"github.com/radmfa/radmfa/internal/ldapdir/ldaptest"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
	"github.com/radmfa/radmfa/sqlite"
)

// seedSHA1 is the RFC 6238 SHA1 seed: the devices of dave and vera.
var seedSHA1 = mfa.Secret("12345678901234567890")

func totpOf(secret mfa.Secret) mfa.Device {
	return mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: secret}
}

func nowCode(t *testing.T, secret mfa.Secret) string {
	t.Helper()
	d := totpOf(secret)
	c, err := mfa.Code(d, mfa.Step(d, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// auditLog records audit entries.
type auditLog struct {
	mu      sync.Mutex
	entries []string
}

func (a *auditLog) AddAudit(_ context.Context, actor, action, target, details string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, actor+" "+action+" "+target)
	return nil
}

// page is the page in front of a real slapd (Citrix format in
// userParameters) and an engine on SQLite.
type page struct {
	srv      *httptest.Server
	slapd    *ldaptest.Server
	dir      *ldapdir.Directory
	engine   *mfa.Engine
	store    *sqlite.Store
	notifier *mfatest.Notifier
	audit    *auditLog
}

func newPage(t *testing.T, maxDevices int) *page {
	t.Helper()
	s := ldaptest.StartSeeded(t)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(ldaptest.ServicePW), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := ldapdir.New(ldapdir.Config{URL: s.LDAPURL, BindDN: ldaptest.ServiceDN, BindPasswordFile: pw, BaseDN: ldaptest.Base,
		UserFilter: "(&(objectClass=inetOrgPerson)(uid=%s))", SecretAttribute: "userParameters", SecretFormat: "citrix",
		EmailAttribute: "mail", MaxDevices: maxDevices})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "radmfa.db")}, sqlite.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	engine, err := mfa.New(store, mfa.Config{}, mfa.WithDirectory(dir, mfa.DirectoryOptions{}), mfa.WithFirstFactor(dir))
	if err != nil {
		t.Fatal(err)
	}
	p := &page{slapd: s, dir: dir, engine: engine, store: store, notifier: &mfatest.Notifier{}, audit: &auditLog{}}
	h, err := New(Config{Listen: "127.0.0.1:0", Issuer: "Example VPN"}, Options{Directory: dir, Verifier: engine, Audit: p.audit,
		Notifier: p.notifier, EmailNotifier: "smtp", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewServer(h)
	t.Cleanup(p.srv.Close)
	return p
}

// browser is a client with cookies that remembers the last page.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	body string
	code int
}

func (p *page) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, base: p.srv.URL}
}

func (b *browser) get(path string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	b.read(resp, err)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post submits a form with the CSRF token of the last page.
func (b *browser) post(path string, kv ...string) {
	b.t.Helper()
	v := url.Values{}
	if m := csrfRE.FindStringSubmatch(b.body); m != nil {
		v.Set("csrf", m[1])
	}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	resp, err := b.c.PostForm(b.base+path, v)
	b.read(resp, err)
}

func (b *browser) read(resp *http.Response, err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.body, b.code = string(body), resp.StatusCode
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		b.t.Fatalf("headers %v", resp.Header)
	}
}

// expect checks the last answer's status and that its text says want.
func (b *browser) expect(status int, want string) {
	b.t.Helper()
	if b.code != status || !strings.Contains(html.UnescapeString(b.body), want) {
		b.t.Fatalf("got %d, want %d with %q:\n%s", b.code, status, want, b.body)
	}
}

func (b *browser) login(name, password string) {
	b.t.Helper()
	b.get("/")
	b.post("/login", "name", name, "password", password)
}

var secretRE = regexp.MustCompile(`<code class="secret" id="secret">([A-Z2-7 ]+)</code>`)

// shownSecret is the secret of the device being added.
func (b *browser) shownSecret() mfa.Secret {
	b.t.Helper()
	m := secretRE.FindStringSubmatch(b.body)
	if m == nil || !strings.Contains(b.body, "<svg class=\"qr\"") {
		b.t.Fatalf("no QR code and secret on the page:\n%s", b.body)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	if err != nil {
		b.t.Fatal(err)
	}
	return mfa.Secret(raw)
}

// TestFirstDevice: a user without a device signs in with the password,
// adds one (a wrong confirmation code first), the directory holds it in
// the Citrix format next to the other data, a login uses it, the user is
// told, and the audit log has it.
func TestFirstDevice(t *testing.T) {
	p := newPage(t, 0)
	b := p.browser(t)
	b.login("nina", "wrong")
	b.expect(http.StatusUnauthorized, "Wrong user name or password.")
	b.login("NINA", "nina-pw")
	b.expect(http.StatusOK, "You have no devices yet.")
	b.post("/add", "name", "My phone")
	b.expect(http.StatusOK, "Scan this QR code")
	secret := b.shownSecret()
	b.post("/confirm", "code", "000000")
	b.expect(http.StatusUnauthorized, "That code did not match.")
	b.post("/confirm", "code", nowCode(t, secret))
	b.expect(http.StatusOK, `Device "My phone" added.`)

	want := "userParameters: PCtxCfgPresent#@My phone=" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret) + "&,"
	if got := p.slapd.Search(t, "(uid=nina)", "userParameters"); !strings.Contains(got, want) {
		t.Fatalf("ldapsearch shows:\n%s\nwant %s", got, want)
	}
	d, err := p.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "nina",
		Passcode: mfa.Secret(nowCode(t, secret)), NAS: mfa.NAS{ClientName: "vpn"}})
	if err != nil || d.Action != mfa.ActionAccept {
		t.Fatalf("login with the new device: %v %s, %v", d.Action, d.Reason, err)
	}
	msgs := p.notifier.Messages()
	if len(msgs) != 1 || msgs[0].Kind != mfa.NotifyAlert || msgs[0].To != "nina@example.test" || msgs[0].Notifier != "smtp" ||
		!strings.Contains(msgs[0].Text, `"My phone" was added`) || strings.Contains(msgs[0].Text, string(secret)) {
		t.Fatalf("notified %+v", msgs)
	}
	if len(p.audit.entries) != 1 || p.audit.entries[0] != "self-service:nina ldap.device.add nina/My phone" {
		t.Fatalf("audit %q", p.audit.entries)
	}
}

// TestMoreDevicesNeedACode: with a device, a password alone changes
// nothing; a current code from an existing device unlocks adding and
// removing; the limit on devices holds; what the page does not use
// (Citrix push tags) survives the edits.
func TestMoreDevicesNeedACode(t *testing.T) {
	p := newPage(t, 3)
	b := p.browser(t)
	b.login("dave", "dave-pw")
	b.expect(http.StatusOK, "first enter the current code from one of your devices")
	if strings.Contains(b.body, `action="/remove"`) || strings.Contains(b.body, `action="/add"`) {
		t.Fatal("changes offered before a code")
	}
	b.post("/add", "name", "Attacker")
	b.expect(http.StatusForbidden, "Enter a current code from one of your devices first.")
	b.post("/remove", "name", "Phone")
	b.expect(http.StatusForbidden, "Enter a current code from one of your devices first.")
	b.post("/verify", "code", "000000")
	b.expect(http.StatusUnauthorized, "That code was not accepted.")
	c := nowCode(t, seedSHA1)
	b.post("/verify", "code", c)
	b.expect(http.StatusOK, "Code accepted")
	// The code is used up: a login cannot replay it.
	d, err := p.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "dave", Passcode: mfa.Secret(c), NAS: mfa.NAS{ClientName: "vpn"}})
	if err != nil || d.Action != mfa.ActionReject || !strings.Contains(d.Reason, "already used") {
		t.Fatalf("replayed the page's code at a login: %v %s, %v", d.Action, d.Reason, err)
	}

	b.post("/add", "name", "<script>alert(1)</script>")
	b.expect(http.StatusOK, "Scan this QR code")
	if strings.Contains(b.body, "<script>") {
		t.Fatal("the device name is not escaped")
	}
	b.post("/confirm", "code", nowCode(t, b.shownSecret()))
	b.expect(http.StatusOK, `Device "<script>alert(1)</script>" added.`)
	b.post("/add", "name", "Fourth")
	b.expect(http.StatusConflict, "You have 3 devices, the most allowed.")

	b.post("/remove", "name", "Phone")
	b.expect(http.StatusOK, `Device "Phone" removed.`)
	got := p.slapd.Search(t, "(uid=dave)", "userParameters")
	if strings.Contains(got, "Phone=") || !strings.Contains(got, "Tablet=OJQWI3LGMEWXIZLTOQWXGZLDOJSXILJU&tag=0123456789abcdef&,") ||
		!strings.Contains(got, "<script>alert(1)</script>=") {
		t.Fatalf("ldapsearch shows:\n%s", got)
	}
	b.post("/remove", "name", "Nothing")
	b.expect(http.StatusNotFound, "There is no such device.")
	if n := len(p.notifier.Messages()); n != 2 {
		t.Fatalf("%d notices, want 2 (one per change)", n)
	}
}

// TestLocalDevicesCount: devices kept in radmfa's database count as much
// as the directory's. nina has no secret in the directory; with a local
// TOTP device she must prove its code before adding one (a stolen
// password alone enrols nothing), and with only a push device the page
// cannot check her at all and sends her to the help desk.
func TestLocalDevicesCount(t *testing.T) {
	ctx := context.Background()
	t.Run("local totp", func(t *testing.T) {
		p := newPage(t, 0)
		app := mfa.Device{Name: "app", Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: seedSHA1}
		if err := p.store.CreateUser(ctx, "test", "nina", app); err != nil {
			t.Fatal(err)
		}
		b := p.browser(t)
		b.login("nina", "nina-pw")
		b.expect(http.StatusOK, "first enter the current code from one of your devices")
		b.post("/add", "name", "Attacker")
		b.expect(http.StatusForbidden, "Enter a current code from one of your devices first.")
		b.post("/verify", "code", nowCode(t, seedSHA1))
		b.expect(http.StatusOK, "Code accepted")
		b.post("/add", "name", "Second phone")
		b.expect(http.StatusOK, "Scan this QR code")
	})
	t.Run("local push only", func(t *testing.T) {
		p := newPage(t, 0)
		if err := p.store.CreateUser(ctx, "test", "nina", mfa.Device{Name: "push", Kind: mfa.DevicePush, Address: "nina-topic"}); err != nil {
			t.Fatal(err)
		}
		b := p.browser(t)
		b.login("nina", "nina-pw")
		b.expect(http.StatusOK, "contact the help desk")
		if strings.Contains(b.body, `action="/add"`) || strings.Contains(b.body, `action="/verify"`) {
			t.Fatal("changes offered to a user the page cannot check")
		}
		b.post("/add", "name", "Attacker")
		b.expect(http.StatusForbidden, "Enter a current code from one of your devices first.")
	})
}

// TestForms: CSRF tokens, sessions, sign-out and throttling.
func TestForms(t *testing.T) {
	p := newPage(t, 0)
	t.Run("login without the CSRF cookie", func(t *testing.T) {
		resp, err := http.PostForm(p.srv.URL+"/login", url.Values{"name": {"dave"}, "password": {"dave-pw"}, "csrf": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", resp.StatusCode)
		}
	})
	t.Run("change with a wrong CSRF token", func(t *testing.T) {
		b := p.browser(t)
		b.login("nina", "nina-pw")
		b.body = `name="csrf" value="forged"`
		b.post("/add", "name", "x")
		if b.code != http.StatusForbidden {
			t.Fatalf("got %d, want 403", b.code)
		}
	})
	t.Run("no session", func(t *testing.T) {
		b := p.browser(t)
		b.get("/")
		b.post("/add", "name", "x")
		b.expect(http.StatusUnauthorized, "Your session has ended.")
	})
	t.Run("sign out", func(t *testing.T) {
		b := p.browser(t)
		b.login("nina", "nina-pw")
		b.post("/logout")
		b.expect(http.StatusOK, "Sign in with your network account")
	})
	t.Run("injection in the name", func(t *testing.T) {
		b := p.browser(t)
		b.login("*)(uid=*", "x")
		b.expect(http.StatusUnauthorized, "Wrong user name or password.")
	})
	// Last: it throttles this address.
	t.Run("throttled", func(t *testing.T) {
		b := p.browser(t)
		for range maxFailures {
			b.login("vera", "nope")
		}
		b.login("vera", "vera-pw")
		b.expect(http.StatusTooManyRequests, "Too many failed attempts.")
	})
}

// stubDir is a directory whose writes fail as told.
type stubDir struct {
	writeErr error
}

func (stubDir) CheckPassword(context.Context, string, mfa.Secret) error { return nil }
func (stubDir) LookupUser(context.Context, string) (mfa.DirectoryUser, error) {
	return mfa.DirectoryUser{}, mfa.ErrNotFound
}
func (stubDir) Secrets(context.Context, string) (ldapdir.UserSecrets, error) {
	return ldapdir.UserSecrets{DN: "uid=x,dc=example,dc=test"}, nil
}
func (stubDir) EncodeSecrets(devs []ldapdir.StoredDevice, old []string) ([]string, error) {
	return ldapdir.EncodeSecrets(ldapdir.FormatCitrix, devs, old)
}
func (s stubDir) ReplaceSecrets(context.Context, string, []string, []string) error { return s.writeErr }
func (stubDir) MaxDevices() int                                                    { return 4 }

type noVerifier struct{}

func (noVerifier) VerifyCode(context.Context, mfa.Request) (mfa.Decision, error) {
	return mfa.Decision{}, errors.New("not used")
}

func (noVerifier) UserDevices(context.Context, string) (mfa.DeviceCounts, error) {
	return mfa.DeviceCounts{}, nil
}

// TestWriteFailures: a change made meanwhile and a directory that refuses
// the write are clear messages, and nobody is told of a change that did
// not happen.
func TestWriteFailures(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"changed meanwhile", ldapdir.ErrChanged, http.StatusConflict, "Your devices changed meanwhile"},
		{"no write access", errors.New("ldapdir: modify: the service account may not write it"), http.StatusServiceUnavailable, "could not be changed now"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := &mfatest.Notifier{}
			h, err := New(Config{}, Options{Directory: stubDir{writeErr: tt.err}, Verifier: noVerifier{}, Notifier: n, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			b := &browser{t: t, c: &http.Client{Jar: jar}, base: srv.URL}
			b.login("x", "pw")
			b.post("/add", "name", "Phone")
			b.post("/confirm", "code", nowCode(t, b.shownSecret()))
			b.expect(tt.status, tt.want)
			if len(n.Messages()) != 0 {
				t.Fatal("notified of a change that failed")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Config
		want string
	}{
		{"off", Config{}, ""},
		{"on", Config{Listen: "10.0.0.5:8444", TLSCert: "c", TLSKey: "k", Issuer: "Example"}, ""},
		{"bad listen", Config{Listen: "8444"}, "want host:port"},
		{"cert without key", Config{TLSCert: "c"}, "go together"},
		{"short session", Config{SessionLifetime: mfa.Duration(time.Second)}, "between 1m and 1h"},
		{"issuer with colon", Config{Issuer: "a:b"}, "no colon"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestQRSVG: the QR code's markup is numbers only, whatever the text.
func TestQRSVG(t *testing.T) {
	svg, err := qrSVG(`otpauth://totp/Example%20VPN:<script>?secret=GEZDGNBV&issuer="x"`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if strings.Count(s, "<") != 4 || strings.Contains(s, "script") || strings.Contains(s, "GEZD") || !strings.HasPrefix(s, `<svg class="qr"`) {
		t.Fatalf("svg: %s", s)
	}
	if _, err := qrSVG(strings.Repeat("x", 5000)); err == nil {
		t.Fatal("a text too long for a QR code was drawn")
	}
}
