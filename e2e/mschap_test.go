package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/exec/ntlmauth"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
	"github.com/radmfa/radmfa/internal/otpauth"
)

// mschapv2 is one MS-CHAPv2 Access-Request as a client builds it for a user
// name and password (RFC 2759; freeradius-notes §6), and what it takes to
// check FreeRADIUS's answer.
//
// Use it with any FreeRADIUS the tests run:
//
//	m := newMSCHAPv2(t, "alice", code)
//	r := fr.send(t, m.attrs...)
//	m.checkAccept(t, r) // or m.checkReject(t, r, "E=691")
type mschapv2 struct {
	attrs []string // radclient input: User-Name, MS-CHAP-Challenge, MS-CHAP2-Response

	userName      string // User-Name as sent
	password      string
	authChallenge []byte // MS-CHAP-Challenge: the NAS's 16 bytes
	peerChallenge []byte // the client's 16 bytes
	ntResponse    []byte // 24 bytes
	ident         byte
}

// newMSCHAPv2 builds the request with fresh random challenges. The
// challenge hash uses the user name without any DOMAIN\ prefix, as Windows
// clients compute it and as rlm_mschap checks it.
func newMSCHAPv2(t *testing.T, userName, password string) *mschapv2 {
	t.Helper()
	m := &mschapv2{userName: userName, password: password, ident: 1,
		authChallenge: make([]byte, mschap.ChallengeLen), peerChallenge: make([]byte, mschap.ChallengeLen)}
	rand.Read(m.authChallenge)
	rand.Read(m.peerChallenge)
	r, err := mschap.GenerateNTResponse(m.authChallenge, m.peerChallenge, m.challengeName(), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	m.ntResponse = r[:]
	// MS-CHAP2-Response: Ident, Flags (0), Peer-Challenge, 8 reserved zero
	// bytes, NT-Response (RFC 2548 §2.3.2).
	resp := []byte{m.ident, 0}
	resp = append(resp, m.peerChallenge...)
	resp = append(resp, make([]byte, 8)...)
	resp = append(resp, m.ntResponse...)
	m.attrs = []string{
		"User-Name = " + str(userName),
		"MS-CHAP-Challenge = 0x" + hex.EncodeToString(m.authChallenge),
		"MS-CHAP2-Response = 0x" + hex.EncodeToString(resp),
	}
	return m
}

// challengeName is the user name the challenge hash covers.
func (m *mschapv2) challengeName() string {
	if i := strings.LastIndexByte(m.userName, '\\'); i >= 0 {
		return m.userName[i+1:]
	}
	return m.userName
}

// checkAccept checks an Access-Accept for this request: MS-CHAP2-Success
// carries the identifier and the authenticator response that only a
// server knowing the password can compute, and the MPPE keys are the ones
// RFC 3079 derives from the password.
func (m *mschapv2) checkAccept(t *testing.T, r reply) {
	t.Helper()
	if r.Code != "Access-Accept" {
		t.Fatalf("got %s %v, want Access-Accept", r.Code, r.Attrs)
	}
	key, err := mschap.NTKey([]byte(m.password))
	if err != nil {
		t.Fatal(err)
	}
	want, err := mschap.AuthenticatorResponse(key, m.ntResponse, m.peerChallenge, m.authChallenge, m.challengeName())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.get("MS-CHAP2-Success"); got != "0x"+hex.EncodeToString(append([]byte{m.ident}, want...)) {
		t.Errorf("MS-CHAP2-Success = %q, want ident %d and %q", got, m.ident, want)
	}
	send, recv, err := mschap.ServerKeys(key, m.ntResponse)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.get("MS-MPPE-Send-Key"); got != send.Octets() {
		t.Errorf("MS-MPPE-Send-Key = %q, want %q", got, send.Octets())
	}
	if got := r.get("MS-MPPE-Recv-Key"); got != recv.Octets() {
		t.Errorf("MS-MPPE-Recv-Key = %q, want %q", got, recv.Octets())
	}
}

// checkReject checks an Access-Reject for this request that carries no
// success or keys, and whose MS-CHAP-Error contains wantError (such as
// "E=691 R=1", "E=647", "M=Password expired"; "" checks only the reject).
func (m *mschapv2) checkReject(t *testing.T, r reply, wantError string) {
	t.Helper()
	if r.Code != "Access-Reject" {
		t.Fatalf("got %s %v, want Access-Reject", r.Code, r.Attrs)
	}
	for _, a := range []string{"MS-CHAP2-Success", "MS-MPPE-Send-Key", "MS-MPPE-Recv-Key"} {
		if v := r.get(a); v != "" {
			t.Errorf("Access-Reject carries %s = %q", a, v)
		}
	}
	if got := r.get("MS-CHAP-Error"); !strings.Contains(got, wantError) {
		t.Errorf("MS-CHAP-Error = %q, want it to contain %q", got, wantError)
	}
}

// startFreeRADIUSWith runs threaded FreeRADIUS from radiusd-minimal.conf
// with the given files (path relative to the config dir: mods-enabled/x,
// sites-enabled/y, users, …) and {{PORT}} in them replaced by its port.
func startFreeRADIUSWith(t *testing.T, files map[string]string) *freeRADIUS {
	t.Helper()
	need(t, "freeradius", "radclient")
	dir := filepath.Join(t.TempDir(), "raddb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fr := &freeRADIUS{dir: dir, port: freePort(t), secret: "testing123", out: &lockedBuffer{}}
	for _, d := range []string{"mods-enabled", "policy.d", "sites-enabled"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content = strings.ReplaceAll(content, "{{PORT}}", strconv.Itoa(fr.port))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runFreeRADIUS(t, fr, dir)
	return fr
}

// mschapSite is a virtual server that authenticates MS-CHAP with the
// mschap module: authorize finds the password (files) or nothing (the
// ntlm_auth helper checks it) and sets Auth-Type MS-CHAP.
const mschapSite = `server mschap_test {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = {{PORT}}
	}
	authorize {
		files
		mschap
	}
	authenticate {
		Auth-Type MS-CHAP {
			mschap
		}
	}
}
`

// mschapModule is the mschap module as freeradius-notes §6 configures it;
// ntlmAuth is its ntlm_auth line ("" for the built-in check).
func mschapModule(ntlmAuth string) string {
	m := "mschap {\n\tuse_mppe = yes\n\trequire_encryption = yes\n\trequire_strong = yes\n"
	if ntlmAuth != "" {
		m += "\tntlm_auth = \"" + ntlmAuth + "\"\n\tntlm_auth_timeout = 5\n"
	}
	return m + "}\n"
}

const filesModule = "files {\n\tfilename = ${confdir}/users\n}\n"

// TestMSCHAPv2BuiltIn proves the request builder against FreeRADIUS's own
// MS-CHAPv2 check with a plain users-file password: no radmfa involved.
func TestMSCHAPv2BuiltIn(t *testing.T) {
	const password = "Correct horse, pässword 1"
	fr := startFreeRADIUSWith(t, map[string]string{
		"mods-enabled/mschap":       mschapModule(""),
		"mods-enabled/files":        filesModule,
		"sites-enabled/mschap_test": mschapSite,
		"users":                     "bob\tCleartext-Password := " + str(password) + "\nDEFAULT\tUser-Name == " + str(`CORP\carol`) + ", Cleartext-Password := " + str(password) + "\n",
	})
	t.Run("right password", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", password)
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	t.Run("right password with a domain", func(t *testing.T) {
		m := newMSCHAPv2(t, `CORP\carol`, password)
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	t.Run("wrong password", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", password+"x")
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1 C=")
	})
	t.Run("password in another case", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", strings.ToUpper(password))
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1 C=")
	})
	t.Run("response for another user name", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", password)
		m.attrs[0] = "User-Name = " + str(`CORP\carol`)
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1 C=")
	})
}

// helperCall is one line of the test helper's --test-log.
type helperCall struct {
	Args     []string
	UserName string
	Domain   string
	Ignored  []ntlmauth.Flag
	Error    string
	Environ  []string
}

// TestMSCHAPv2NTLMAuthHelper runs FreeRADIUS's mschap module with
// ntlm_auth pointing at a helper built from exec/ntlmauth and
// internal/mschap (testdata/ntlmhelper, one fixed password): the real
// module's argv must parse, and its NT_KEY and failure lines must give the
// Accept with MPPE keys and the MS-CHAP errors they promise.
func TestMSCHAPv2NTLMAuthHelper(t *testing.T) {
	need(t, "freeradius", "radclient")
	const password = "Helper pässword 1" // testdata/ntlmhelper's
	dir := t.TempDir()
	helper := filepath.Join(dir, "ntlmhelper")
	build := exec.Command("go", "build", "-o", helper, "./testdata/ntlmhelper")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the helper: %v\n%s", err, out)
	}
	logFile := filepath.Join(dir, "calls.jsonl")
	// The flags as freeradius-notes §6 gives them, plus Samba flags the
	// helper must ignore; --challenge in the "--flag value" form.
	ntlmAuth := helper + " --test-log=" + logFile + " --request-nt-key --allow-mschapv2 --helper-protocol=ntlm-server-1" +
		" --username=%{mschap:User-Name} --domain=%{%{mschap:NT-Domain}:-NONE}" +
		" --challenge %{%{mschap:Challenge}:-00} --nt-response=%{%{mschap:NT-Response}:-00}"
	fr := startFreeRADIUSWith(t, map[string]string{
		"mods-enabled/mschap":       mschapModule(ntlmAuth),
		"mods-enabled/files":        filesModule,
		"sites-enabled/mschap_test": mschapSite,
		"users":                     "", // no passwords: the helper checks them
	})

	// What rlm_mschap 3.2 made of each failure line, as the client sees it
	// in MS-CHAP-Error: R=1 allows a retry, R=0 does not.
	tests := []struct {
		name, user, password string
		wantError            string // "" wants an Accept
		wantUser, wantDomain string // what the helper parsed
	}{
		{"right password", "bob", password, "", "bob", ""},
		{"NT_KEY in lowercase hex", "lowercase", password, "", "lowercase", ""},
		{"right password with a domain", `CORP\carol`, password, "", "carol", "CORP"},
		{"user name with spaces and quotes", `O'Brien, "x" y`, password, "", `O'Brien, "x" y`, ""},
		{"wrong password", "bob", "Helper password 1", "E=691 R=1 C=", "bob", ""},
		{"trigger p fails", "bob", "p", "E=691 R=1 C=", "bob", ""},
		{"trigger space fails", "bob", " ", "E=691 R=1 C=", "bob", ""},
		{"account locked out", "locked", password, "E=647 R=0 C=", "locked", ""},
		{"password expired", "expired", password, "E=648 R=0 C=", "expired", ""},
		{"account disabled", "disabled", password, "E=691 R=0 C=", "disabled", ""},
		{"no logon servers", "nologon", password, "E=691 R=1 C=", "nologon", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(readHelperLog(t, logFile))
			m := newMSCHAPv2(t, tt.user, tt.password)
			r := fr.send(t, m.attrs...)
			if tt.wantError == "" {
				m.checkAccept(t, r)
			} else {
				m.checkReject(t, r, tt.wantError)
			}
			calls := readHelperLog(t, logFile)
			if len(calls) != before+1 {
				t.Fatalf("helper ran %d times, want once", len(calls)-before)
			}
			c := calls[len(calls)-1]
			if c.Error != "" || c.UserName != tt.wantUser || c.Domain != tt.wantDomain {
				t.Fatalf("helper parsed user %q domain %q error %q from %q; want user %q domain %q", c.UserName, c.Domain, c.Error, c.Args, tt.wantUser, tt.wantDomain)
			}
			var ignored []string
			for _, f := range c.Ignored {
				ignored = append(ignored, f.Name+"="+f.Value)
			}
			if want := "test-log=" + logFile + " request-nt-key= allow-mschapv2= helper-protocol=ntlm-server-1"; strings.Join(ignored, " ") != want {
				t.Errorf("ignored flags %q, want %q", ignored, want)
			}
			if len(c.Environ) != 0 {
				t.Errorf("helper environment %q, want empty (freeradius-notes §6)", c.Environ)
			}
		})
	}

	// "No logon servers" is the one failure that makes the module fail
	// rather than reject (radmfa could not decide): a site may map that
	// rcode differently, e.g. to fail open.
	if n := strings.Count(fr.out.String(), "[mschap] = fail"); n != 1 {
		t.Errorf("mschap failed %d times, want once (no logon servers)", n)
	}

	t.Run("no MS-CHAP attributes", func(t *testing.T) {
		// Without MS-CHAP attributes mschap does not take the request:
		// nothing authenticates it, and the helper never runs.
		before := len(readHelperLog(t, logFile))
		r := fr.send(t, "User-Name = "+str("bob"), "User-Password = "+str(password))
		if r.Code != "Access-Reject" {
			t.Fatalf("got %s, want Access-Reject", r.Code)
		}
		if n := len(readHelperLog(t, logFile)); n != before {
			t.Fatalf("helper ran %d times, want 0", n-before)
		}
	})
}

func readHelperLog(t *testing.T, path string) []helperCall {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []helperCall
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c helperCall
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("helper log: %v: %s", err, sc.Text())
		}
		calls = append(calls, c)
	}
	return calls
}

// mschapSnippet returns a shipped FreeRADIUS snippet with the install
// paths (and nothing else) replaced, each exactly once, as snippet does.
func mschapSnippet(t *testing.T, name string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "freeradius", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(replace); i += 2 {
		if n := strings.Count(s, replace[i]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want 1", name, replace[i], n)
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return s
}

// mschapLab is a radmfa installation for the MS-CHAPv2 tests: bob has an
// authenticator app; dan an app and an SMS number; pat an app and a push
// device. Notifications go through the command built-in to a script that
// appends each one to the outbox (JSON lines).
type mschapLab struct {
	e         *env
	outbox    string
	serveURL  string
	approvals string // base URL of the approval page (rest only)
}

// Secrets and SMS number of the MS-CHAPv2 test users (base32).
const (
	mschapSecretBob = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	mschapSecretDan = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
	mschapSecretPat = "KRUGS4ZANFZSAZDBOZSSA43FMNZGK5BA"
	mschapDanPhone  = "+447700900456"
)

func newMSCHAPLab(t *testing.T, withServe bool) *mschapLab {
	t.Helper()
	dir := t.TempDir()
	lab := &mschapLab{outbox: filepath.Join(dir, "outbox.jsonl")}
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat >> \"$1\"\necho >> \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("\n[notifiers.phone]\nbuiltin = \"command\"\n[notifiers.phone.settings]\npath = %q\nargs = [%q]\n", script, lab.outbox)
	if withServe {
		serveCfg, url, _ := serveConfig(t, dir)
		approval := "127.0.0.1:" + strconv.Itoa(freePort(t))
		lab.serveURL, lab.approvals = url, "http://"+approval
		cfg = serveCfg + "decision_timeout = \"20s\"\n" + cfg +
			fmt.Sprintf("\n[approval]\nlisten = %q\n\n[push]\napproval_url = %q\ntimeout = \"15s\"\n", approval, lab.approvals) +
			// A roll-out profile: unknown users get in without a second
			// factor, over PAP.
			"\n[[profile]]\nname = \"rollout\"\nclients = [\"127.0.0.1/32\"]\nunknown_user = \"accept\"\n"
	}
	lab.e = newEnv(t, cfg)
	for _, u := range []struct{ name, secret string }{{"bob", mschapSecretBob}, {"dan", mschapSecretDan}, {"pat", mschapSecretPat}} {
		lab.e.radmfa(t, u.secret+"\n", "user", "add", u.name, "--secret", "-", "--json")
	}
	lab.e.radmfa(t, "", "device", "add", "dan", "--sms", "--to", mschapDanPhone)
	lab.e.radmfa(t, "", "device", "add", "pat", "--push", "--to", "pat-topic")
	if withServe {
		startServe(t, lab.e, lab.serveURL, filepath.Join(dir, "radmfa.sock"))
	}
	return lab
}

// mschapNote is one notification the script received.
type mschapNote struct {
	Kind, User, To, Code string
	Push                 *struct {
		ApprovalURL string `json:"approval_url"`
	}
}

// notes returns the notifications delivered so far.
func (lab *mschapLab) notes(t *testing.T) []mschapNote {
	t.Helper()
	b, err := os.ReadFile(lab.outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []mschapNote
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var n mschapNote
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			t.Fatalf("outbox: %v: %s", err, line)
		}
		out = append(out, n)
	}
	return out
}

// mschapCode returns a user's TOTP code steps away from now.
func mschapCode(t *testing.T, secret string, steps int64) string {
	t.Helper()
	key, err := otpauth.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	d := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: key}
	c, err := mfa.Code(d, mfa.Step(d, time.Now())+steps)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mschapEvents returns the events of radmfa's activity report for a user,
// newest first.
func (lab *mschapLab) events(t *testing.T, user string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	out := lab.e.radmfa(t, "", "report", "activity", "--user", user, "--json", "--limit", "100")
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return evs
}

// TestMSCHAPv2NTLMAuth runs FreeRADIUS with the shipped radmfa_mschap
// module and site: rlm_mschap calls radmfa ntlm-auth, which checks the
// MS-CHAPv2 response against the user's codes and the triggers.
func TestMSCHAPv2NTLMAuth(t *testing.T) {
	lab := newMSCHAPLab(t, false)
	fr := startFreeRADIUSWith(t, map[string]string{
		"mods-enabled/radmfa_mschap": mschapSnippet(t, "mods-available/radmfa_mschap",
			"/usr/local/bin/radmfa", radmfaBin, "/etc/radmfa/radmfa.toml", lab.e.config),
		"sites-enabled/radmfa_mschap": mschapSnippet(t, "sites-available/radmfa_mschap", "port = 1812", "port = {{PORT}}"),
	})
	code := mschapCode(t, mschapSecretBob, 0)

	t.Run("totp code: accept with MPPE keys (NT_KEY)", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", code)
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	t.Run("replayed code", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", code)
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1")
	})
	t.Run("next code with an NT domain", func(t *testing.T) {
		m := newMSCHAPv2(t, `CORP\bob`, mschapCode(t, mschapSecretBob, 1))
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	for _, typed := range []string{"p", " ", "x", "7", "123456"} {
		t.Run(fmt.Sprintf("%q rejected", typed), func(t *testing.T) {
			m := newMSCHAPv2(t, "bob", typed)
			m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1")
		})
	}
	t.Run("s sends an SMS code; the next login with it is accepted", func(t *testing.T) {
		m := newMSCHAPv2(t, "dan", "s")
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1")
		notes := lab.notes(t)
		if len(notes) != 1 || notes[0].Kind != "code" || notes[0].To != mschapDanPhone || len(notes[0].Code) != 6 {
			t.Fatalf("notifications %+v: want one SMS code to %s", notes, mschapDanPhone)
		}
		sent := notes[0].Code
		m = newMSCHAPv2(t, "dan", sent)
		m.checkAccept(t, fr.send(t, m.attrs...))
		m = newMSCHAPv2(t, "dan", sent)
		m.checkReject(t, fr.send(t, m.attrs...), "E=691")
	})
	t.Run("p for a push user: no push through ntlm_auth", func(t *testing.T) {
		m := newMSCHAPv2(t, "pat", "p")
		m.checkReject(t, fr.send(t, m.attrs...), "E=691 R=1")
		if n := len(lab.notes(t)); n != 1 {
			t.Fatalf("%d notifications, want still 1", n)
		}
	})

	evs := lab.events(t, "bob")
	var msgs []string
	for _, ev := range evs {
		if ev["front_door"] != "ntlm-auth" || ev["client"] != "localhost" {
			t.Errorf("event %v: want front door ntlm-auth, client localhost", ev)
		}
		msgs = append(msgs, fmt.Sprint(ev["result"], ":", ev["trigger"], ":", ev["message"]))
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"Success:code:OTP accepted", "Failure:code:OTP already used", "Failure:1-char:push trigger over MS-CHAPv2", "Failure:other:MS-CHAPv2 response matches no valid code or trigger"} {
		if !strings.Contains(got, want) {
			t.Errorf("events lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, code) {
		t.Error("an event contains the code")
	}
}

// TestMSCHAPv2REST runs FreeRADIUS with the shipped radmfa_mschap_rest
// site: radmfa serve checks the MS-CHAPv2 response (through rlm_rest),
// waits for a push where the user typed a push trigger, and hands the
// matched passcode's NT hash to rlm_mschap, which completes the exchange.
func TestMSCHAPv2REST(t *testing.T) {
	need(t, "freeradius")
	if _, err := os.Stat("/usr/lib/freeradius/rlm_rest.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rlm_rest is not installed: CI never skips, run scripts/deps.sh (freeradius-rest)")
		}
		t.Skip("rlm_rest is not installed (freeradius-rest)")
	}
	lab := newMSCHAPLab(t, true)
	fr := startFreeRADIUSWith(t, map[string]string{
		"mods-enabled/radmfa_rest": mschapSnippet(t, "mods-available/radmfa_rest", "http://127.0.0.1:18122/", lab.serveURL+"/"),
		"policy.d/radmfa_rest":     mschapSnippet(t, "policy.d/radmfa_rest"),
		"mods-enabled/radmfa_mschap": mschapSnippet(t, "mods-available/radmfa_mschap",
			"/usr/local/bin/radmfa", radmfaBin, "/etc/radmfa/radmfa.toml", lab.e.config),
		"sites-enabled/radmfa_mschap_rest": mschapSnippet(t, "sites-available/radmfa_mschap_rest", "port = 1812", "port = {{PORT}}"),
	})
	code := mschapCode(t, mschapSecretBob, 0)

	t.Run("totp code: accept with MPPE keys (NT-Password)", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", code)
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	t.Run("replayed code", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", code)
		m.checkReject(t, fr.send(t, m.attrs...), "\x01E=691 R=0 C=")
	})
	t.Run("forbidden 1-character passcode", func(t *testing.T) {
		m := newMSCHAPv2(t, "bob", "x")
		// An Ident of 0x80 or more: it comes back as a byte, not UTF-8.
		m.attrs[2] = "MS-CHAP2-Response = 0xb7" + strings.TrimPrefix(m.attrs[2], "MS-CHAP2-Response = 0x01")
		m.checkReject(t, fr.send(t, m.attrs...), "\xb7E=691 R=0 C=")
	})
	t.Run("unknown user under unknown_user = accept: MS-CHAPv2 rejected, PAP accepted", func(t *testing.T) {
		// radmfa never learns what was typed, so a policy accept cannot
		// complete MS-CHAPv2; a bare Accept would let anyone in.
		m := newMSCHAPv2(t, "newcomer", "whatever")
		m.checkReject(t, fr.send(t, m.attrs...), "\x01E=691 R=0 C=")
		r := fr.send(t, "User-Name = "+str("newcomer"), "User-Password = "+str("123456"))
		if r.Code != "Access-Accept" {
			t.Fatalf("PAP: got %s %v", r.Code, r.Attrs)
		}
		evs := lab.events(t, "newcomer") // newest first
		if len(evs) != 2 || evs[1]["result"] != "Failure" || !strings.Contains(fmt.Sprint(evs[1]["message"]), "MS-CHAPv2 cannot complete without the passcode") ||
			evs[0]["result"] != "Success" {
			t.Fatalf("events %v", evs)
		}
	})
	t.Run("PAP through the same site", func(t *testing.T) {
		r := fr.send(t, "User-Name = "+str("bob"), "User-Password = "+str(mschapCode(t, mschapSecretBob, 1)))
		if r.Code != "Access-Accept" {
			t.Fatalf("got %s %v", r.Code, r.Attrs)
		}
	})
	t.Run("s sends an SMS code; the next login with it is accepted", func(t *testing.T) {
		m := newMSCHAPv2(t, "dan", "S")
		r := fr.send(t, m.attrs...)
		m.checkReject(t, r, "")
		if got, want := r.get("Reply-Message"), "A code was sent to +44…56: sign in again with the code as your password"; got != want {
			t.Errorf("Reply-Message %q, want %q", got, want)
		}
		notes := lab.notes(t)
		if len(notes) != 1 || notes[0].Kind != "code" {
			t.Fatalf("notifications %+v", notes)
		}
		m = newMSCHAPv2(t, "dan", notes[0].Code)
		m.checkAccept(t, fr.send(t, m.attrs...))
	})
	for _, tt := range []struct {
		typed, action string
		accept        bool
	}{{"p", "approve", true}, {" ", "approve", true}, {"P", "deny_fraud", false}} {
		t.Run(fmt.Sprintf("push trigger %q, %s", tt.typed, tt.action), func(t *testing.T) {
			before := len(lab.notes(t))
			done := make(chan reply, 1)
			m := newMSCHAPv2(t, "pat", tt.typed)
			go func() { done <- fr.send(t, m.attrs...) }()
			var n mschapNote
			deadline := time.Now().Add(10 * time.Second)
			for {
				if notes := lab.notes(t); len(notes) > before {
					n = notes[before]
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no push notification after 10 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n.Kind != "push" || n.To != "pat-topic" || n.Push == nil {
				t.Fatalf("notification %+v: want a push to pat-topic", n)
			}
			if status := mschapApprove(t, lab.approvals, n.Push.ApprovalURL, tt.action); status != 200 {
				t.Fatalf("approval page answered %d", status)
			}
			r := <-done
			if tt.accept {
				m.checkAccept(t, r)
			} else {
				m.checkReject(t, r, "")
			}
		})
	}

	evs := lab.events(t, "pat")
	if len(evs) < 2 || evs[0]["result"] != "Failure" || evs[0]["method"] != "push" || evs[len(evs)-1]["front_door"] != "rest" {
		t.Errorf("pat's events %v", evs)
	}
}

var mschapCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// mschapApprove answers a push on the real approval page, as a phone would.
func mschapApprove(t *testing.T, base, approvalURL, action string) int {
	t.Helper()
	i := strings.Index(approvalURL, "/approve/")
	if i < 0 {
		t.Fatalf("approval URL %q", approvalURL)
	}
	page := base + approvalURL[i:]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := mschapCSRF.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no form on the approval page (%d): %s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(page, url.Values{"csrf": {m[1]}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
