package ldapdir

// Tests against a real slapd (see slapd_test.go). They do not run in
// parallel: some count goroutines.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/ldapdir/ldaptest"
	"github.com/radmfa/radmfa/internal/mfa"
)

var ctx = context.Background()

// Configs for each secret format, applied to slapd.testConfig.
var (
	useBase32  = func(c *Config) { c.SecretAttribute, c.SecretFormat = "radmfaSecret", "base32" }
	useOTPAuth = func(c *Config) { c.SecretAttribute, c.SecretFormat = "radmfaOTPAuth", "otpauth" }
	useCitrix  = func(c *Config) { c.SecretAttribute, c.SecretFormat = "userParameters", "citrix" }
)

func userDN(uid string) string { return "uid=" + uid + ",ou=people," + testBase }

func TestLookupUser(t *testing.T) {
	s := testSlapd(t)
	type dev struct {
		name, alg    string
		digits       int
		secret, code string // code: RFC 6238 8-digit vector at T=59, or ""
	}
	tests := []struct {
		name   string
		cfg    func(*Config)
		user   string
		dn     string
		devs   []dev
		phone  string
		email  string
		groups []string
	}{
		{"base32 with contact and groups", useBase32, "alice", userDN("alice"),
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}}, "+1 555 0100", "alice@example.test",
			[]string{"cn=admins,ou=groups," + testBase, "cn=vpn-users,ou=groups," + testBase}},
		{"base32 multi-valued is two devices", useBase32, "bob", userDN("bob"),
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}, {"ldap2", "SHA1", 6, "radmfa-test-secret-2", ""}}, "", "",
			[]string{"cn=vpn-users,ou=groups," + testBase}},
		{"base32 no devices", useBase32, "frank", userDN("frank"), nil, "", "", nil},
		{"otpauth sha256", useOTPAuth, "carol", userDN("carol"),
			[]dev{{"ldap1", "SHA256", 8, seedSHA256, "46119246"}}, "", "", nil},
		{"otpauth two values", useOTPAuth, "erin", userDN("erin"),
			[]dev{{"ldap1", "SHA512", 8, seedSHA512, "90693936"}, {"ldap2", "SHA1", 6, "radmfa-test-secret-3", ""}}, "", "", nil},
		{"citrix two devices", useCitrix, "dave", userDN("dave"),
			[]dev{{"Phone", "SHA1", 6, seedSHA1, "94287082"}, {"Tablet", "SHA1", 6, "radmfa-test-secret-4", ""}}, "", "", nil},
		{"citrix with other text", useCitrix, "dora", userDN("dora"),
			[]dev{{"Phone", "SHA1", 6, "radmfa-test-secret-5", ""}}, "", "", nil},
		{"citrix no attribute", useCitrix, "frank", userDN("frank"), nil, "", "", nil},
		{"no secret attribute", func(c *Config) { c.SecretAttribute, c.SecretFormat = "", "" }, "alice", userDN("alice"), nil,
			"+1 555 0100", "alice@example.test", []string{"cn=admins,ou=groups," + testBase, "cn=vpn-users,ou=groups," + testBase}},
		{"AD-style filter, any case", func(c *Config) { c.UserFilter = "(&(objectClass=radmfaUser)(sAMAccountName=%s))" }, "ALICE", userDN("alice"),
			[]dev{{"ldap1", "SHA1", 6, seedSHA1, "94287082"}}, "+1 555 0100", "alice@example.test",
			[]string{"cn=admins,ou=groups," + testBase, "cn=vpn-users,ou=groups," + testBase}},
		{"non-ASCII name", useBase32, "jörg", userDN("jörg"),
			[]dev{{"ldap1", "SHA1", 6, "radmfa-test-secret-7", ""}}, "", "", nil},
		{"filter metacharacter in a real name", useBase32, "star*", userDN("star*"), nil, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDirectory(t, s.testConfig(t, tt.cfg))
			u, err := d.LookupUser(ctx, tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(u.DN, tt.dn) {
				t.Errorf("DN %q, want %q", u.DN, tt.dn)
			}
			if len(u.Devices) != len(tt.devs) {
				t.Fatalf("got %d devices, want %d", len(u.Devices), len(tt.devs))
			}
			for i, w := range tt.devs {
				d := u.Devices[i]
				if d.Name != w.name || d.Kind != mfa.DeviceTOTP || d.Algorithm != w.alg || d.Digits != w.digits || d.Period != 30 || d.ID != 0 {
					t.Errorf("device %d: got %+v, want %s totp %s/%d/30", i, d, w.name, w.alg, w.digits)
				}
				if string(d.Secret) != w.secret {
					t.Errorf("device %d: wrong secret", i)
				}
				if w.code != "" {
					checkCode(t, d, w.code)
				}
			}
			if u.Phone != tt.phone || u.Email != tt.email {
				t.Errorf("phone %q, e-mail %q; want %q, %q", u.Phone, u.Email, tt.phone, tt.email)
			}
			slices.Sort(u.Groups)
			if !slices.Equal(u.Groups, tt.groups) {
				t.Errorf("groups %q, want %q", u.Groups, tt.groups)
			}
		})
	}
}

// addEntry adds an entry as the root DN (for data too odd for the LDIF
// files); an entry left by an earlier run of the same slapd is fine.
func addEntry(t *testing.T, s *slapd, dn string, attrs map[string][]string) {
	t.Helper()
	l, err := ldap.DialURL(s.ldapURL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(testRootDN, testRootPW); err != nil {
		t.Fatal(err)
	}
	req := ldap.NewAddRequest(dn, nil)
	for a, v := range attrs {
		req.Attribute(a, v)
	}
	if err := l.Add(req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatal(err)
	}
}

// setAttr sets an attribute as the root DN, so that tests that write start
// from the same data however often they run.
func setAttr(t *testing.T, s *slapd, dn, attr string, vals []string) {
	t.Helper()
	l, err := ldap.DialURL(s.ldapURL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(testRootDN, testRootPW); err != nil {
		t.Fatal(err)
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, vals)
	if err := l.Modify(req); err != nil {
		t.Fatal(err)
	}
}

func TestLookupUserBadData(t *testing.T) {
	s := testSlapd(t)
	huge := strings.Repeat("A", 40000)
	addEntry(t, s, userDN("huge"), map[string][]string{
		"objectClass": {"inetOrgPerson", "radmfaUser"}, "uid": {"huge"}, "cn": {"x"}, "sn": {"x"},
		"radmfaSecret": {huge}, "userParameters": {"#@Phone=" + b32SHA1 + "&," + huge},
	})
	tests := []struct {
		name string
		cfg  func(*Config)
		user string
		want string
	}{
		{"base32 garbage", useBase32, "bad-b32", `user "bad-b32": radmfaSecret: value 1: otpauth: secret is not valid base32`},
		{"base32 too short", useBase32, "bad-short", "secret is 40 bits, want at least 80"},
		{"base32 too many devices", useBase32, "too-many", "5 devices, more than max_devices (4)"},
		{"base32 max_devices 1", func(c *Config) { useBase32(c); c.MaxDevices = 1 }, "bob", "2 devices, more than max_devices (1)"},
		{"base32 oversized", useBase32, "huge", "value 1 is 40000 bytes"},
		{"otpauth not otpauth", useOTPAuth, "bad-uri", `scheme is "https"`},
		{"otpauth hotp", useOTPAuth, "bad-hotp", "hotp keys are not supported"},
		{"citrix empty secret", useCitrix, "bad-citrix-empty", `device "Phone": empty secret`},
		{"citrix duplicate names", useCitrix, "bad-citrix-dup", "two devices named"},
		{"citrix unterminated", useCitrix, "bad-citrix-open", "without the closing &,"},
		{"citrix encrypted", useCitrix, "bad-citrix-encrypted", "encrypted OTP data"},
		{"citrix five devices", useCitrix, "bad-citrix-five", "5 devices, more than max_devices (4)"},
		{"citrix oversized", useCitrix, "huge", "bytes, more than 32768"},
		{"two mobiles", useBase32, "two-mobiles", "mobile: 2 values: want one"},
		{"bad mobile", useBase32, "bad-mobile", `phone number "call me maybe"`},
		{"bad mail", useBase32, "bad-mail", "e-mail address"},
		{"ambiguous filter", useBase32, "twin", "user_filter matches 2 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDirectory(t, s.testConfig(t, tt.cfg))
			_, err := d.LookupUser(ctx, tt.user)
			if !errors.Is(err, mfa.ErrDirectoryData) {
				t.Fatalf("got %v, want mfa.ErrDirectoryData", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), b32SHA1) || strings.Contains(err.Error(), "GEZDGNBV") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

// TestLookupUserInjection: user names are data, never filter syntax. None
// of these may find an entry, let alone several.
func TestLookupUserInjection(t *testing.T) {
	s := testSlapd(t)
	d := newTestDirectory(t, s.testConfig(t, nil))
	names := map[string]string{
		"star":                  "*",
		"close and reopen":      ")(uid=*",
		"or all":                "admin)(|(uid=*",
		"wildcard suffix":       "admin*",
		"wildcard prefix":       "*dmin",
		"wildcard middle":       "st*",
		"and objectClass":       "*)(objectClass=*",
		"full filter":           "(uid=admin)",
		"escaped star":          `\2a`,
		"backslash":             `admin\`,
		"NUL after name":        "admin\x00",
		"NUL alone":             "\x00",
		"newline":               "admin\n",
		"invalid UTF-8":         "admin\xff",
		"empty":                 "",
		"long, asked":           strings.Repeat("a", 1000),
		"very long, not asked":  strings.Repeat("admin)(uid=*", 1000),
		"unknown":               "nobody",
		"dn instead of name":    "uid=admin,ou=people," + testBase,
		"extensible match":      "admin)(uid:dn:=people",
		"approx":                "admin)(uid~=admn",
		"star with real prefix": "star**",
	}
	for name, user := range names {
		t.Run(name, func(t *testing.T) {
			u, err := d.LookupUser(ctx, user)
			if !errors.Is(err, mfa.ErrNotFound) {
				t.Fatalf("LookupUser(%q) = %+v, %v; want mfa.ErrNotFound", user, u.DN, err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes: long names must be cut in messages", len(err.Error()))
			}
		})
	}
	t.Run("star* finds only itself", func(t *testing.T) {
		u, err := d.LookupUser(ctx, "star*")
		if err != nil || u.DN != userDN("star*") {
			t.Fatalf("got %q, %v; want %s", u.DN, err, userDN("star*"))
		}
	})
}

func TestCheckPassword(t *testing.T) {
	s := testSlapd(t)
	d := newTestDirectory(t, s.testConfig(t, nil))
	tests := []struct {
		name     string
		user     string
		password string
		want     error // nil: accepted
		alsoWant error
	}{
		{"right password", "alice", "alice-pw", nil, nil},
		{"right password, other case", "ALICE", "alice-pw", nil, nil},
		{"wrong password", "alice", "alice-pw2", mfa.ErrBadCredentials, nil},
		{"other user's password", "alice", "bob-pw", mfa.ErrBadCredentials, nil},
		{"empty password", "alice", "", mfa.ErrBadCredentials, nil},
		{"no password in the entry", "star*", "x", mfa.ErrBadCredentials, nil},
		{"unknown user", "nobody", "alice-pw", mfa.ErrNotFound, mfa.ErrBadCredentials},
		{"injection", "alice)(uid=*", "alice-pw", mfa.ErrNotFound, mfa.ErrBadCredentials},
		{"too long", "alice", strings.Repeat("p", MaxPasswordBytes+1), mfa.ErrBadCredentials, nil},
		{"ambiguous", "twin", "x", mfa.ErrDirectoryData, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.CheckPassword(ctx, tt.user, mfa.Secret(tt.password))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || (tt.alsoWant != nil && !errors.Is(err, tt.alsoWant)) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
	// The user binds did not change the pooled connections' identity:
	// only the service account may read the secrets.
	u, err := d.LookupUser(ctx, "bob")
	if err != nil || len(u.Devices) != 2 {
		t.Fatalf("after user binds, lookup as the service account: %+v, %v", u, err)
	}
}

// TestCheckPasswordEmptyBeforeConnecting: an empty password is refused
// without asking the directory (a simple bind with an empty password is
// an unauthenticated bind, which servers accept).
func TestCheckPasswordEmptyBeforeConnecting(t *testing.T) {
	d, err := New(Config{URL: "ldap://127.0.0.1:1", BaseDN: testBase})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.CheckPassword(ctx, "alice", nil)
	if !errors.Is(err, mfa.ErrBadCredentials) || errors.Is(err, mfa.ErrBackendDown) {
		t.Fatalf("got %v, want mfa.ErrBadCredentials before any connection", err)
	}
}

func TestServiceAccountWrongPassword(t *testing.T) {
	s := testSlapd(t)
	cfg := s.testConfig(t, nil)
	cfg.BindPasswordFile = writeFile(t, "pw", []byte("wrong-service-pw"))
	d := newTestDirectory(t, cfg)
	_, err := d.LookupUser(ctx, "alice")
	if !errors.Is(err, mfa.ErrBackendDown) || !strings.Contains(err.Error(), "service account bind") || !strings.Contains(err.Error(), "Invalid Credentials") {
		t.Fatalf("got %v, want mfa.ErrBackendDown from the service bind", err)
	}
	if strings.Contains(err.Error(), "wrong-service-pw") {
		t.Errorf("error %q contains the password", err)
	}
	if s := fmt.Sprintf("%+v %#v", d, d); strings.Contains(s, "wrong-service-pw") {
		t.Errorf("printing the Directory shows the password: %s", s)
	}
}

func TestPing(t *testing.T) {
	s := testSlapd(t)
	if err := newTestDirectory(t, s.testConfig(t, nil)).Ping(ctx); err != nil {
		t.Fatal(err)
	}
	d := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.BaseDN = "ou=nowhere," + testBase }))
	if err := d.Ping(ctx); !errors.Is(err, mfa.ErrBackendDown) || !strings.Contains(err.Error(), "No Such Object") {
		t.Fatalf("got %v, want mfa.ErrBackendDown saying No Such Object", err)
	}
	if _, err := d.LookupUser(ctx, "alice"); !errors.Is(err, mfa.ErrBackendDown) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v, want mfa.ErrBackendDown saying the base does not exist", err)
	}
}

// ownSlapd starts a slapd of the test's own with a server certificate
// valid from notBefore to notAfter, signed by the shared test CA.
func ownSlapd(t *testing.T, notBefore, notAfter time.Time, seed bool) *slapd {
	t.Helper()
	testSlapd(t) // makes the CA
	cert, key, err := shared.pki.Issue(notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	s, err := startSlapd(needSlapd(t), t.TempDir(), shared.pki.CAPEM, cert, key, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func TestTLS(t *testing.T) {
	s := testSlapd(t)
	otherCA, err := ldaptest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	otherCAFile := writeFile(t, "other-ca.pem", otherCA.CAPEM)
	expired := ownSlapd(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), false)
	tests := []struct {
		name string
		cfg  func(*Config)
		want string // "" means the lookup works
	}{
		{"ldaps", func(c *Config) { c.URL, c.CAFile = s.ldapsURL, s.caFile }, ""},
		{"starttls", func(c *Config) { c.StartTLS, c.CAFile = true, s.caFile }, ""},
		{"ldaps by name", func(c *Config) { c.URL, c.CAFile = strings.Replace(s.ldapsURL, "127.0.0.1", "localhost", 1), s.caFile }, ""},
		{"ldaps untrusted", func(c *Config) { c.URL, c.CAFile = s.ldapsURL, otherCAFile }, "certificate signed by unknown authority"},
		{"starttls untrusted", func(c *Config) { c.StartTLS, c.CAFile = true, otherCAFile }, "certificate signed by unknown authority"},
		{"ldaps system roots", func(c *Config) { c.URL = s.ldapsURL }, "certificate signed by unknown authority"},
		{"ldaps expired", func(c *Config) { c.URL, c.CAFile = expired.ldapsURL, s.caFile }, "certificate has expired"},
		{"starttls expired", func(c *Config) { c.URL, c.StartTLS, c.CAFile = expired.ldapURL, true, s.caFile }, "certificate has expired"},
		{"ldaps untrusted, verification off", func(c *Config) { c.URL, c.InsecureSkipVerify = s.ldapsURL, true }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTestDirectory(t, s.testConfig(t, tt.cfg))
			u, err := d.LookupUser(ctx, "alice")
			if tt.want == "" {
				if err != nil || len(u.Devices) != 1 {
					t.Fatalf("got %+v, %v", u, err)
				}
				return
			}
			// Untrusted as well as down: the engine never fails open on it.
			if !errors.Is(err, mfa.ErrBackendDown) || !errors.Is(err, mfa.ErrBackendUntrusted) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want mfa.ErrBackendDown and mfa.ErrBackendUntrusted saying %q", err, tt.want)
			}
			// The first factor goes through the same checks.
			if err := d.CheckPassword(ctx, "alice", mfa.Secret("alice-pw")); !errors.Is(err, mfa.ErrBackendUntrusted) {
				t.Fatalf("CheckPassword: got %v, want mfa.ErrBackendUntrusted", err)
			}
		})
	}
}

// settle waits until no more than baseline goroutines run, or fails with
// their stacks: a call must not leave goroutines behind.
func settle(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), baseline, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blackHole listens on loopback, accepts connections and never answers:
// a directory that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
}

// TestBackendDownOrSlow: nothing listening, or a listener that never
// answers, gives mfa.ErrBackendDown within the timeout (or the caller's
// deadline, if shorter), and leaves no goroutine behind.
func TestBackendDownOrSlow(t *testing.T) {
	s := testSlapd(t)
	const timeout = 300 * time.Millisecond
	const slack = 2*timeout + 500*time.Millisecond // a loaded 2-core CI box
	hole := blackHole(t)
	dead := deadAddr(t)
	tests := []struct {
		name     string
		cfg      func(*Config)
		deadline time.Duration // the caller's, 0 for none
		min, max time.Duration
		want     string
	}{
		{"down", func(c *Config) { c.URL = "ldap://" + dead }, 0, 0, timeout, "connection refused"},
		{"down, both servers", func(c *Config) { c.URL = "ldap://" + dead + " ldaps://" + dead }, 0, 0, timeout, "connection refused"},
		{"slow bind", func(c *Config) { c.URL = "ldap://" + hole }, 0, timeout, slack, "no answer within 300ms"},
		{"slow TLS handshake", func(c *Config) { c.URL, c.CAFile = "ldaps://"+hole, s.caFile }, 0, timeout, slack, "deadline exceeded"},
		{"slow StartTLS", func(c *Config) { c.URL, c.StartTLS, c.CAFile = "ldap://"+hole, true, s.caFile }, 0, timeout, slack, "StartTLS: no answer"},
		{"anonymous, slow search", func(c *Config) { c.URL, c.BindDN, c.BindPasswordFile = "ldap://"+hole, "", "" }, 0, timeout, slack, "no answer within 300ms"},
		{"caller's deadline first", func(c *Config) { c.URL, c.Timeout = "ldap://"+hole, mfa.Duration(5*time.Second) }, 100 * time.Millisecond, 100 * time.Millisecond, time.Second, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			cfg := s.testConfig(t, tt.cfg)
			if cfg.Timeout == mfa.Duration(5*time.Second) && tt.deadline == 0 {
				cfg.Timeout = mfa.Duration(timeout)
			}
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, call := range []struct {
				name string
				do   func(context.Context) error
			}{
				{"LookupUser", func(c context.Context) error { _, err := d.LookupUser(c, "alice"); return err }},
				{"CheckPassword", func(c context.Context) error { return d.CheckPassword(c, "alice", mfa.Secret("alice-pw")) }},
				{"ReplaceSecrets", func(c context.Context) error {
					return d.ReplaceSecrets(c, userDN("alice"), []string{"a"}, []string{"b"})
				}},
			} {
				start := time.Now()
				c, cancel := ctx, context.CancelFunc(func() {})
				if tt.deadline > 0 {
					c, cancel = context.WithTimeout(ctx, tt.deadline)
				}
				err := call.do(c)
				took := time.Since(start)
				cancel()
				if !errors.Is(err, mfa.ErrBackendDown) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: got %v, want mfa.ErrBackendDown saying %q", call.name, err, tt.want)
				}
				if took < tt.min || took > tt.max {
					t.Errorf("%s: took %s, want %s to %s", call.name, took, tt.min, tt.max)
				}
				if strings.Contains(err.Error(), "alice-pw") || strings.Contains(err.Error(), servicePW) {
					t.Errorf("%s: error %q contains a password", call.name, err)
				}
			}
			settle(t, baseline) // before Close: failed calls keep nothing
			d.Close()
		})
	}
}

// TestCancel: cancelling the caller's context ends a hanging call at once.
func TestCancel(t *testing.T) {
	s := testSlapd(t)
	hole := blackHole(t)
	baseline := runtime.NumGoroutine()
	d := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.URL = "ldap://" + hole }))
	c, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := d.LookupUser(c, "alice")
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s after cancel at 100ms", took)
	}
	if !errors.Is(err, mfa.ErrBackendDown) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want mfa.ErrBackendDown and context.Canceled", err)
	}
	settle(t, baseline)
}

// TestFrozenDirectory: a real slapd that stops answering (SIGSTOP) in the
// middle of its life: calls on pooled connections time out, and once it
// answers again the broken connections are replaced.
func TestFrozenDirectory(t *testing.T) {
	s := ownSlapd(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), true)
	t.Cleanup(func() { _ = s.Resume() })
	const timeout = 400 * time.Millisecond
	baseline := runtime.NumGoroutine()
	d, err := New(s.testConfig(t, func(c *Config) { c.Timeout = mfa.Duration(timeout) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.LookupUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"LookupUser", func() error { _, err := d.LookupUser(ctx, "alice"); return err }},
		{"CheckPassword", func() error { return d.CheckPassword(ctx, "alice", mfa.Secret("alice-pw")) }},
		{"Ping", func() error { return d.Ping(ctx) }},
	} {
		start := time.Now()
		err := call.do()
		if took := time.Since(start); took > 2*timeout+500*time.Millisecond {
			t.Errorf("%s: took %s with a %s timeout", call.name, took, timeout)
		}
		if !errors.Is(err, mfa.ErrBackendDown) {
			t.Errorf("%s: got %v, want mfa.ErrBackendDown", call.name, err)
		}
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	u, err := d.LookupUser(ctx, "alice")
	if err != nil || len(u.Devices) != 1 {
		t.Fatalf("after the directory is back: %+v, %v", u, err)
	}
	if err := d.CheckPassword(ctx, "alice", mfa.Secret("alice-pw")); err != nil {
		t.Fatalf("after the directory is back: %v", err)
	}
	d.Close()
	settle(t, baseline)
}

// TestFailover: the first server is down, the second answers.
func TestFailover(t *testing.T) {
	s := testSlapd(t)
	d := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.URL = "ldap://" + deadAddr(t) + " " + s.ldapURL }))
	for i := range 3 {
		if _, err := d.LookupUser(ctx, "alice"); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		if err := d.CheckPassword(ctx, "alice", mfa.Secret("alice-pw")); err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
	}
	if order := d.serverOrder(); order[0] != 1 {
		t.Errorf("server order %v: the failed server should come last", order)
	}
}

func TestPool(t *testing.T) {
	s := testSlapd(t)
	baseline := runtime.NumGoroutine()
	d, err := New(s.testConfig(t, func(c *Config) { c.PoolSize = 2 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("concurrent lookups share two connections", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 16*5)
		for range 16 {
			wg.Go(func() {
				for range 5 {
					if _, err := d.LookupUser(ctx, "bob"); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := len(d.pool.idle); n > 2 {
			t.Errorf("%d idle connections, pool size 2", n)
		}
	})
	t.Run("a connection the server dropped is replaced", func(t *testing.T) {
		d.pool.mu.Lock()
		for _, c := range d.pool.idle {
			c.raw.Close() // as if the server or a firewall dropped it
		}
		d.pool.mu.Unlock()
		if _, err := d.LookupUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a connection idle too long is replaced", func(t *testing.T) {
		d.pool.mu.Lock()
		old := append([]*conn(nil), d.pool.idle...)
		for _, c := range d.pool.idle {
			c.idleSince = time.Now().Add(-2 * maxIdle)
		}
		d.pool.mu.Unlock()
		if _, err := d.LookupUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		d.pool.mu.Lock()
		defer d.pool.mu.Unlock()
		for _, c := range d.pool.idle {
			if slices.Contains(old, c) {
				t.Error("an expired connection went back to the pool")
			}
		}
	})
	d.Close()
	if _, err := d.LookupUser(ctx, "alice"); !errors.Is(err, errClosed) {
		t.Fatalf("after Close: got %v, want errClosed", err)
	}
	settle(t, baseline)
}

func TestReplaceSecrets(t *testing.T) {
	s := testSlapd(t)
	t.Run("base32: add a device", func(t *testing.T) {
		setAttr(t, s, userDN("rita"), "radmfaSecret", []string{b32Two})
		d := newTestDirectory(t, s.testConfig(t, useBase32))
		us, err := d.Secrets(ctx, "rita")
		if err != nil {
			t.Fatal(err)
		}
		if us.DN != userDN("rita") || len(us.Values) != 1 || len(us.Devices) != 1 {
			t.Fatalf("got %+v", us)
		}
		devs := append(us.Devices, StoredDevice{Device: totpDefaults("new", mfa.Secret(seedSHA1))})
		vals, err := d.EncodeSecrets(devs, us.Values)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.ReplaceSecrets(ctx, us.DN, us.Values, vals); err != nil {
			t.Fatal(err)
		}
		u, err := d.LookupUser(ctx, "rita")
		if err != nil || len(u.Devices) != 2 {
			t.Fatalf("after the change: %+v, %v", u, err)
		}
		checkCode(t, u.Devices[1], "94287082")
		got := s.ldapsearch(t, "(uid=rita)", "radmfaSecret")
		if !strings.Contains(got, "radmfaSecret: "+b32Two) || !strings.Contains(got, "radmfaSecret: "+b32SHA1) {
			t.Errorf("ldapsearch shows:\n%s", got)
		}
		// A writer that read before this change must not overwrite it.
		err = d.ReplaceSecrets(ctx, us.DN, []string{b32Three}, []string{b32SHA256})
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("stale write: got %v, want ErrChanged", err)
		}
		// Nor may one that adds a value someone else added already.
		if err := d.ReplaceSecrets(ctx, us.DN, nil, []string{b32SHA1}); !errors.Is(err, ErrChanged) {
			t.Fatalf("duplicate add: got %v, want ErrChanged", err)
		}
		// Remove all devices.
		if err := d.ReplaceSecrets(ctx, us.DN, vals, nil); err != nil {
			t.Fatal(err)
		}
		if u, err := d.LookupUser(ctx, "rita"); err != nil || len(u.Devices) != 0 {
			t.Fatalf("after removing all: %+v, %v", u, err)
		}
		if more, err := d.EncodeSecrets(make([]StoredDevice, 5), nil); err == nil {
			t.Fatalf("encoded 5 devices with max_devices 4: %q", more)
		}
	})
	t.Run("citrix: add a device, keep the rest of the value", func(t *testing.T) {
		setAttr(t, s, userDN("cindy"), "userParameters", []string{"PCtxCfgPresent #@Phone=" + b32Three + "&tag=feedface&, tail"})
		d := newTestDirectory(t, s.testConfig(t, useCitrix))
		us, err := d.Secrets(ctx, "cindy")
		if err != nil {
			t.Fatal(err)
		}
		devs := append(us.Devices, StoredDevice{Device: totpDefaults("New Phone", mfa.Secret(seedSHA1))})
		vals, err := d.EncodeSecrets(devs, us.Values)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.ReplaceSecrets(ctx, us.DN, us.Values, vals); err != nil {
			t.Fatal(err)
		}
		want := "userParameters: PCtxCfgPresent #@Phone=" + b32Three + "&tag=feedface&,New Phone=" + b32SHA1 + "&, tail"
		if got := s.ldapsearch(t, "(uid=cindy)", "userParameters"); !strings.Contains(got, want) {
			t.Errorf("ldapsearch shows:\n%s\nwant %s", got, want)
		}
		u, err := d.LookupUser(ctx, "cindy")
		if err != nil || len(u.Devices) != 2 || u.Devices[1].Name != "New Phone" {
			t.Fatalf("after the change: %+v, %v", u, err)
		}
		checkCode(t, u.Devices[1], "94287082")
		if err := d.ReplaceSecrets(ctx, us.DN, us.Values, us.Values); !errors.Is(err, ErrChanged) {
			t.Fatalf("stale write: got %v, want ErrChanged", err)
		}
	})
	t.Run("citrix: first device, then a racing first device", func(t *testing.T) {
		setAttr(t, s, userDN("newbie"), "userParameters", nil)
		d := newTestDirectory(t, s.testConfig(t, useCitrix))
		us, err := d.Secrets(ctx, "newbie")
		if err != nil || len(us.Values) != 0 {
			t.Fatalf("got %+v, %v", us, err)
		}
		vals, err := d.EncodeSecrets([]StoredDevice{{Device: totpDefaults("Phone", mfa.Secret(seedSHA1))}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.ReplaceSecrets(ctx, us.DN, nil, vals); err != nil {
			t.Fatal(err)
		}
		// userParameters is single-valued: a second "first" write fails.
		other := []string{"#@Tablet=" + b32Two + "&,"}
		if err := d.ReplaceSecrets(ctx, us.DN, nil, other); !errors.Is(err, ErrChanged) {
			t.Fatalf("racing first write: got %v, want ErrChanged", err)
		}
		if err := d.ReplaceSecrets(ctx, us.DN, vals, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("read-only service account", func(t *testing.T) {
		cfg := s.testConfig(t, useBase32)
		cfg.BindDN, cfg.BindPasswordFile = readerDN, writeFile(t, "pw", []byte(readerPW))
		d := newTestDirectory(t, cfg)
		us, err := d.Secrets(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		err = d.ReplaceSecrets(ctx, us.DN, us.Values, []string{b32Three})
		if err == nil || !strings.Contains(err.Error(), "may not write") {
			t.Fatalf("got %v, want an error saying the account may not write", err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		d := newTestDirectory(t, s.testConfig(t, useBase32))
		if err := d.ReplaceSecrets(ctx, "not a dn", nil, []string{b32SHA1}); err == nil {
			t.Error("accepted a bad DN")
		}
		if err := d.ReplaceSecrets(ctx, userDN("rita"), nil, []string{strings.Repeat("A", MaxValueBytes+1)}); err == nil {
			t.Error("accepted an oversized value")
		}
		if err := d.ReplaceSecrets(ctx, userDN("rita"), nil, nil); err != nil {
			t.Errorf("nothing to do: %v", err)
		}
		d2 := newTestDirectory(t, s.testConfig(t, func(c *Config) { c.SecretAttribute, c.SecretFormat = "", "" }))
		if err := d2.ReplaceSecrets(ctx, userDN("rita"), nil, []string{b32SHA1}); err == nil {
			t.Error("no secret_attribute, but the write went ahead")
		}
		if _, err := d2.Secrets(ctx, "rita"); err == nil {
			t.Error("no secret_attribute, but Secrets read something")
		}
	})
}

// TestNoGoroutineLeft: a directory that did lookups, binds and writes
// leaves nothing running after Close.
func TestNoGoroutineLeft(t *testing.T) {
	s := testSlapd(t)
	baseline := runtime.NumGoroutine()
	d, err := New(s.testConfig(t, func(c *Config) { c.URL, c.CAFile = s.ldapsURL, s.caFile }))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := d.LookupUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := d.CheckPassword(ctx, "alice", mfa.Secret("alice-pw")); err != nil {
			t.Fatal(err)
		}
		if err := d.CheckPassword(ctx, "alice", mfa.Secret("nope")); !errors.Is(err, mfa.ErrBadCredentials) {
			t.Fatal(err)
		}
	}
	d.Close()
	settle(t, baseline)
}
