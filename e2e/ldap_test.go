package e2e

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/radmfa/radmfa/internal/ldapdir/ldaptest"
	"github.com/radmfa/radmfa/internal/mfa"
)

// The directory tests: a real slapd (ldaptest, users from testdata/ldap
// with Citrix ADC's userParameters), real FreeRADIUS through rlm_rest to
// radmfa serve, radclient as the NAS, and real headless Chromium on the
// self-service page.

// ldapSeed is the RFC 6238 SHA1 seed, the Citrix "Phone" device of dave
// and vera in testdata/ldap/10-users.ldif.
var ldapSeed = mfa.Secret("12345678901234567890")

// ldapCode is a device's current code, waiting for the next step first
// when this one ends within 3 s (so the code is not stale on arrival).
func ldapCode(t *testing.T, secret mfa.Secret) string {
	t.Helper()
	if left := 30 - time.Now().Unix()%30; left < 3 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
	d := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: secret}
	c, err := mfa.Code(d, mfa.Step(d, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nextLDAPCode waits for the next step and returns its code (the current
// one was used).
func nextLDAPCode(t *testing.T, secret mfa.Secret) string {
	t.Helper()
	time.Sleep(time.Duration(30-time.Now().Unix()%30)*time.Second + 100*time.Millisecond)
	return ldapCode(t, secret)
}

// ldapServeConfig is [ldap] for a slapd at url (LDAPS with its CA,
// Citrix format) and the profiles: members of append-users sign in with
// the append grammar, everyone else with SafeNet's; both fail open.
func ldapServeConfig(t *testing.T, url, caFile string) string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "ldap-password")
	if err := os.WriteFile(pw, []byte(ldaptest.ServicePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
[ldap]
url = %q
ca_file = %q
bind_dn = %q
bind_password_file = %q
base_dn = %q
user_filter = "(&(objectClass=inetOrgPerson)(uid=%%s))"
secret_attribute = "userParameters"
secret_format = "citrix"
max_devices = 3
timeout = "1s"

[[profile]]
name = "append-users"
clients = ["localhost"]
groups = ["cn=append-users,ou=groups,dc=example,dc=test"]
grammar = "append"
resource = "VPN (password and code)"
fail_mode = "open"

[[profile]]
name = "everyone"
clients = ["localhost"]
fail_mode = "open"
resource = "VPN"
`, url, caFile, ldaptest.ServiceDN, pw, ldaptest.Base)
}

// ldapEvent is one row of radmfa report activity --json.
type ldapEvent struct {
	User      string `json:"user"`
	Result    string `json:"result"`
	Message   string `json:"message"`
	Device    string `json:"device"`
	Resource  string `json:"resource"`
	FrontDoor string `json:"front_door"`
}

func latestEvent(t *testing.T, e *env, user string) ldapEvent {
	t.Helper()
	var evs []ldapEvent
	out := e.radmfa(t, "", "report", "activity", "--user", user, "--limit", "1", "--format", "json")
	if err := json.Unmarshal([]byte(out), &evs); err != nil || len(evs) != 1 {
		t.Fatalf("report activity for %s: %v\n%s", user, err, out)
	}
	return evs[0]
}

// expectLogin sends one Access-Request and checks the answer and the
// event it left.
func expectLogin(t *testing.T, e *env, fr *freeRADIUS, user, password, code, msg, event string) {
	t.Helper()
	r := fr.send(t, "User-Name = "+str(user), "User-Password = "+str(password))
	if r.Code != code || r.get("Reply-Message") != msg {
		t.Fatalf("%s: got %s %q, want %s %q", user, r.Code, r.get("Reply-Message"), code, msg)
	}
	if event != "" {
		if ev := latestEvent(t, e, user); !strings.Contains(ev.Message, event) {
			t.Fatalf("%s: event %+v, want %q", user, ev, event)
		}
	}
}

// freeAddr is a TCP address on loopback that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestLDAPThroughFreeRADIUS: TOTP from a directory secret, the append
// grammar with the LDAP password, LDAP injection in user names, the
// self-service page in Chromium whose write ldapsearch shows and a login
// then uses, and a hung directory that answers in time with the fail
// mode.
func TestLDAPThroughFreeRADIUS(t *testing.T) {
	needRLMRest(t)
	s := ldaptest.StartSeeded(t)
	dir := t.TempDir()
	serveCfg, url, sock := serveConfig(t, dir)
	page := freeAddr(t)
	e := newEnv(t, serveCfg+ldapServeConfig(t, s.LDAPSURL, s.CAFile)+
		fmt.Sprintf("\n[self_service]\nlisten = %q\nissuer = \"Example VPN\"\n", page))
	if out, code := e.run(t, "", nil, "check-config", "--ldap-user", "vera"); code != 0 || !strings.Contains(out, "Directory user:    vera is uid=vera") {
		t.Fatalf("check-config: exit %d\n%s", code, out)
	}
	startServe(t, e, url, sock)
	fr := startFreeRADIUS(t, e, viaREST, url)

	t.Run("totp from the directory", func(t *testing.T) {
		c := ldapCode(t, ldapSeed)
		expectLogin(t, e, fr, "dave", c, "Access-Accept", "", "OTP accepted")
		if ev := latestEvent(t, e, "dave"); ev.Device != "Phone" || ev.Resource != "VPN" {
			t.Fatalf("event %+v: want the directory's device Phone, profile everyone", ev)
		}
		// Replay state lives in radmfa's store.
		expectLogin(t, e, fr, "dave", c, "Access-Reject", mfa.MsgCodeUsed, "OTP already used")
		if out := e.radmfa(t, "", "user", "show", "dave", "--from-ldap"); !regexp.MustCompile(`Phone\s+directory\s+totp\s+SHA1, 6 digits, 30s\s+enabled\s+20`).MatchString(out) ||
			!regexp.MustCompile(`Tablet\s+directory\s+totp\s+SHA1, 6 digits, 30s\s+enabled\s+never`).MatchString(out) {
			t.Fatalf("user show --from-ldap: want Phone used, Tablet never:\n%s", out)
		}
	})
	t.Run("append grammar with the LDAP password", func(t *testing.T) {
		c := ldapCode(t, ldapSeed)
		expectLogin(t, e, fr, "vera", "wrong-pw"+c, "Access-Reject", mfa.MsgFailed, "wrong password")
		expectLogin(t, e, fr, "vera", c, "Access-Reject", mfa.MsgFailed, "no password typed (grammar append)")
		expectLogin(t, e, fr, "vera", "vera-pw"+c, "Access-Accept", "", "OTP accepted")
		if ev := latestEvent(t, e, "vera"); ev.Resource != "VPN (password and code)" {
			t.Fatalf("event %+v: want the append-users profile, chosen by group", ev)
		}
		expectLogin(t, e, fr, "vera", "vera-pw"+"000000", "Access-Reject", mfa.MsgFailed, "wrong OTP")
	})
	t.Run("exec door reads the directory too", func(t *testing.T) {
		// radmfa exec (no daemon configured) decides locally with the
		// same [ldap]: directory devices and the append grammar.
		fx := startFreeRADIUS(t, e, viaExec, "")
		expectLogin(t, e, fx, "dave", nextLDAPCode(t, ldapSeed), "Access-Accept", "", "OTP accepted")
		if ev := latestEvent(t, e, "dave"); ev.FrontDoor != "exec" {
			t.Fatalf("event %+v: want front door exec", ev)
		}
		c := ldapCode(t, ldapSeed)
		expectLogin(t, e, fx, "vera", "wrong-pw"+c, "Access-Reject", mfa.MsgFailed, "wrong password")
		expectLogin(t, e, fx, "vera", "vera-pw"+c, "Access-Accept", "", "OTP accepted")
	})
	t.Run("user resync finds a directory token", func(t *testing.T) {
		// dave's Tablet runs 20 steps (10 minutes) ahead: too far for a
		// login, found by resync, which keeps its place in radmfa's store.
		const tablet = "OJQWI3LGMEWXIZLTOQWXGZLDOJSXILJU"
		now := time.Now().Unix() / 30
		out := e.radmfa(t, "", "user", "resync", "dave", totpAt(t, tablet, now+20), totpAt(t, tablet, now+21))
		if !strings.Contains(out, `User "dave": Tablet resynchronised (+2`) {
			t.Fatalf("user resync: %s", out)
		}
		expectLogin(t, e, fr, "dave", totpAt(t, tablet, now+22), "Access-Accept", "", "OTP accepted")
		if ev := latestEvent(t, e, "dave"); ev.Device != "Tablet" {
			t.Fatalf("event %+v: want the directory's Tablet", ev)
		}
		if out, code := e.run(t, "", nil, "user", "resync", "nobody-here", "123456", "654321"); code == 0 || !strings.Contains(out, "not found") {
			t.Fatalf("resync of an unknown user: exit %d\n%s", code, out)
		}
	})
	t.Run("ldap injection in user names", func(t *testing.T) {
		for _, name := range []string{"*", "admin)(|(uid=*", "dav*", "dave)(uid=dave", `\2a`} {
			expectLogin(t, e, fr, name, "123456", "Access-Reject", mfa.MsgFailed, "unknown user")
		}
	})
	t.Run("self-service page in chromium", func(t *testing.T) {
		secret := enrolInChromium(t, "http://"+page, "nina", "nina-pw", "Work phone")
		want := "userParameters: PCtxCfgPresent#@Work phone=" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret) + "&,"
		if got := s.Search(t, "(uid=nina)", "userParameters"); !strings.Contains(got, want) {
			t.Fatalf("ldapsearch shows:\n%s\nwant %s", got, want)
		}
		// The enrolment confirmed with this step's code: log in with the next.
		expectLogin(t, e, fr, "nina", nextLDAPCode(t, secret), "Access-Accept", "", "OTP accepted")
		if out := e.radmfa(t, "", "report", "audit"); !strings.Contains(out, "ldap.device.add") || !strings.Contains(out, "nina/Work phone") {
			t.Fatalf("audit log:\n%s", out)
		}
	})
	t.Run("hung directory: the fail mode, in time", func(t *testing.T) {
		if err := s.Pause(); err != nil {
			t.Fatal(err)
		}
		defer s.Resume()
		start := time.Now()
		expectLogin(t, e, fr, "dave", "123456", "Access-Accept", "", "directory unavailable")
		if took := time.Since(start); took > 6*time.Second {
			t.Fatalf("answered after %s with a 1 s directory timeout", took)
		}
		if ev := latestEvent(t, e, "dave"); !strings.Contains(ev.Message, "fail mode open: accepted") {
			t.Fatalf("event %+v", ev)
		}
		// Without the directory vera's group is unknown: every profile for
		// this client fails open, so it does.
		expectLogin(t, e, fr, "vera", "vera-pw123456", "Access-Accept", "", "directory unavailable")
	})
}

// TestLDAPExpiredCertificate: a directory whose certificate has expired
// is never "down" for a fail-open profile.
func TestLDAPExpiredCertificate(t *testing.T) {
	needRLMRest(t)
	pki, err := ldaptest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.Issue(time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ldaptest.Start(ldaptest.Need(t), t.TempDir(), pki.CAPEM, cert, key, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	dir := t.TempDir()
	serveCfg, url, sock := serveConfig(t, dir)
	e := newEnv(t, serveCfg+ldapServeConfig(t, s.LDAPSURL, s.CAFile))
	out, code := e.run(t, "", nil, "check-config")
	if code != 1 || !strings.Contains(out, "certificate has expired") {
		t.Fatalf("check-config: exit %d\n%s", code, out)
	}
	startServe(t, e, url, sock)
	fr := startFreeRADIUS(t, e, viaREST, url)
	expectLogin(t, e, fr, "dave", ldapCode(t, ldapSeed), "Access-Reject", mfa.MsgUnavailable, "a TLS failure never fails open")
	if ev := latestEvent(t, e, "dave"); !strings.Contains(ev.Message, "certificate has expired") {
		t.Fatalf("event %+v", ev)
	}
}

// needChromium finds Chromium, or skips; under CI=true it fails.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI never skips the browser test, run scripts/deps.sh first")
	}
	t.Skip("chromium is not installed (scripts/deps.sh installs it)")
	return ""
}

// enrolInChromium signs in to the self-service page as user, adds a
// device with a wrong code first, then the right one, and returns the
// device's secret as the page showed it. It fails on any JavaScript
// dialog and saves screenshots in artifacts/.
func enrolInChromium(t *testing.T, base, user, password, device string) mfa.Secret {
	t.Helper()
	bin := needChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		// Without these Chromium keeps calling home, and this network is closed.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(390, 844),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	var dialogs atomic.Int32
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		for _, err := range events {
			if err != nil {
				return
			}
			dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	defer func() { cancelBrowser(); <-listening }()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	waitJS := func(step, expr string) {
		t.Helper()
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if ok {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// After a form's POST, chromedp's visibility checks (WaitVisible) do
	// not see the new page while its script does: the steps after the
	// sign-in wait, read and fill in forms by script.
	text := func(step, sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return v
	}
	submit := func(step, form string, fields map[string]string) {
		t.Helper()
		js := ""
		for name, v := range fields {
			js += fmt.Sprintf(`document.querySelector('form.%s [name="%s"]').value = %q;`, form, name, v)
		}
		js += fmt.Sprintf(`document.querySelector('form.%s').submit(); true`, form)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	do("open the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`input[name="password"]`))
	do("sign in",
		chromedp.SendKeys(`input[name="name"]`, user),
		chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Submit(`form.login`),
	)
	waitJS("the devices page", `document.querySelector('form.add') !== null`)
	if got := text("devices", `#devices`); !strings.Contains(got, "You have no devices yet") {
		t.Fatalf("devices: %q", got)
	}
	submit("add a device", "add", map[string]string{"name": device})
	waitJS("the QR code", `document.querySelector('svg.qr') !== null && document.querySelector('svg.qr').getBoundingClientRect().width > 100`)
	shown := strings.ReplaceAll(text("secret", `#secret`), " ", "")
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(shown)
	if err != nil {
		t.Fatalf("secret on the page %q: %v", shown, err)
	}
	secret := mfa.Secret(raw)
	submit("a wrong code", "confirm", map[string]string{"code": "000000"})
	waitJS("the error", `document.querySelector('.error') !== null`)
	if got := text("error", `.error`); !strings.Contains(got, "That code did not match") {
		t.Fatalf("after a wrong code: %q", got)
	}
	submit("the right code", "confirm", map[string]string{"code": ldapCode(t, secret)})
	waitJS("confirmed", `document.querySelector('.notice') !== null`)
	if got := text("notice", `.notice`); !strings.Contains(got, `Device "`+device+`" added`) {
		t.Fatalf("after confirming: %q", got)
	}
	if got := text("devices", `#devices`); !strings.Contains(got, device) {
		t.Fatalf("devices after adding: %q", got)
	}
	done, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if n := dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened", n)
	}
	if art, err := filepath.Abs(filepath.Join("..", "artifacts")); err == nil && os.MkdirAll(art, 0o755) == nil {
		os.WriteFile(filepath.Join(art, "self-service-added.png"), done, 0o644)
	}
	return secret
}
