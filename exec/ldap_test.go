package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/ldapdir/ldaptest"
	"github.com/radmfa/radmfa/internal/mfa"
)

// ldapConfig writes a config for slapd s (LDAPS, base32 secrets in
// radmfaSecret) plus extra, and returns its path.
func ldapConfig(t *testing.T, dir string, s *ldaptest.Server, extra string) string {
	t.Helper()
	pw := filepath.Join(dir, "ldap-password")
	if err := os.WriteFile(pw, []byte(ldaptest.ServicePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`[ldap]
url = %q
ca_file = %q
bind_dn = %q
bind_password_file = "ldap-password"
base_dn = %q
user_filter = "(&(objectClass=inetOrgPerson)(uid=%%s))"
secret_attribute = "radmfaSecret"
phone_attribute = "mobile"
email_attribute = "mail"
timeout = "2s"
`, s.LDAPSURL, s.CAFile, ldaptest.ServiceDN, ldaptest.Base) + extra
	path := filepath.Join(dir, "radmfa.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckLDAP(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // "" valid
	}{
		{"nothing", "", ""},
		{"append without ldap", "[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\ngrammar = \"append\"\n",
			`profile "vpn": its grammar carries the password, which radmfa must then check by binding to the directory: configure [ldap]`},
		{"suffix without ldap", "[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\ngrammar = \"suffix\"\ndelimiter = \"|\"\n", "configure [ldap]"},
		{"groups without ldap", "[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\ngroups = [\"cn=a,dc=x\"]\n", "groups and mfa_groups need [ldap]"},
		{"self-service without ldap", "[self_service]\nlisten = \"127.0.0.1:8444\"\n", "the page needs [ldap]"},
		{"self-service without secret attribute", "[ldap]\nurl = \"ldaps://dc\"\nbase_dn = \"dc=x\"\n[self_service]\nlisten = \"127.0.0.1:8444\"\n", "ldap.secret_attribute is empty"},
		{"sms notifier unknown", "[ldap]\nurl = \"ldaps://dc\"\nbase_dn = \"dc=x\"\nphone_attribute = \"mobile\"\nsms_notifier = \"sms\"\n", `ldap.sms_notifier = "sms": no [notifiers.sms] section`},
		{"plain ldap to a remote host", "[ldap]\nurl = \"ldap://dc.example.com\"\nbase_dn = \"dc=x\"\n", "would send passwords and OTP secrets in clear"},
		{"unknown ldap key", "[ldap]\nurl = \"ldaps://dc\"\nbase_dn = \"dc=x\"\nsecret_attr = \"x\"\n", `unknown key "ldap.secret_attr"`},
		// Valid: check-config goes on to bind, and there is no dc.
		{"append with ldap", "[ldap]\nurl = \"ldaps://dc.invalid\"\nbase_dn = \"dc=x\"\ntimeout = \"1s\"\n[[profile]]\nname = \"vpn\"\nclients = [\"vpn\"]\ngrammar = \"append\"\ncode_digits = 8\n",
			"radmfa: directory: ldapdir: connect: mfa: backend unavailable: ldaps://dc.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "radmfa.toml")
			if err := os.WriteFile(path, []byte(tt.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := radmfa(t, dir, "", "--config", path, "check-config")
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				return
			}
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want it to say %q", code, stderr, tt.want)
			}
		})
	}
}

// TestLDAPCommands: check-config binds and finds a user, user show and
// list --from-ldap read the real directory, and a directory that is down
// or has an expired certificate is a clear error in time.
func TestLDAPCommands(t *testing.T) {
	s := ldaptest.StartSeeded(t)
	dir := t.TempDir()
	path := ldapConfig(t, dir, s, "")

	out, stderr, code := radmfa(t, dir, "", "--config", path, "check-config", "--ldap-user", "Alice")
	if code != 0 {
		t.Fatalf("check-config: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"Directory:         " + s.LDAPSURL + ", base dc=example,dc=test, secrets in radmfaSecret (base32)",
		"Directory status:  ok (bound as cn=radmfa,ou=services,dc=example,dc=test, read base_dn)",
		"Directory user:    alice is uid=alice,ou=people,dc=example,dc=test: 1 OTP device(s) ldap1 (totp SHA1, 6 digits, 30s); phone +1 555 0100; e-mail alice@example.test; 2 group(s)",
		"Warning:           ldap.phone_attribute = mobile: in Active Directory users can change their own mobile",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config does not say %q:\n%s", want, out)
		}
	}
	for _, tt := range []struct{ user, want string }{
		{"nobody", "directory user nobody: ldapdir: user \"nobody\": mfa: not found"},
		{"*", "mfa: not found"},
		{"admin)(|(uid=*", "mfa: not found"},
		{"bad-b32", "radmfaSecret: value 1: otpauth: secret is not valid base32"},
	} {
		_, stderr, code := radmfa(t, dir, "", "--config", path, "check-config", "--ldap-user", tt.user)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("--ldap-user %q: exit %d, %q; want 1 and %q", tt.user, code, stderr, tt.want)
		}
	}

	out, stderr, code = radmfa(t, dir, "", "--config", path, "user", "show", "bob", "--from-ldap")
	if code != 0 {
		t.Fatalf("user show --from-ldap: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Directory: uid=bob,ou=people,dc=example,dc=test", "Database:  no record yet", "ldap1   directory  totp", "ldap2   directory  totp"} {
		if !strings.Contains(out, want) {
			t.Errorf("user show --from-ldap does not say %q:\n%s", want, out)
		}
	}
	out, _, code = radmfa(t, dir, "", "--config", path, "user", "show", "alice", "--from-ldap", "--json")
	var u directoryUserJSON
	if err := json.Unmarshal([]byte(out), &u); code != 0 || err != nil || len(u.Devices) != 3 || u.Devices[1].Name != mfa.DirectorySMSDevice || len(u.Groups) != 2 {
		t.Fatalf("user show --json: exit %d, %v:\n%s", code, err, out)
	}
	out, stderr, code = radmfa(t, dir, "", "--config", path, "user", "list", "--from-ldap")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "unusable: value 1") || !strings.Contains(out, "directory user(s)") {
		t.Fatalf("user list --from-ldap: exit %d %s\n%s", code, stderr, out)
	}
	if _, stderr, code := radmfa(t, dir, "", "user", "list", "--from-ldap"); code != 2 || !strings.Contains(stderr, "--from-ldap needs [ldap]") {
		t.Fatalf("without [ldap]: exit %d %q", code, stderr)
	}

	// Expired certificate: a clear error, exit 1.
	pki, err := ldaptest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherCA, pki.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(mustRead(t, path), s.CAFile, otherCA, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = radmfa(t, dir, "", "--config", path, "check-config")
	if code != 1 || !strings.Contains(stderr, "certificate signed by unknown authority") || !strings.Contains(stderr, "backend identity not verified") {
		t.Fatalf("untrusted certificate: exit %d %q", code, stderr)
	}
	// Down: refused at once.
	s.Stop()
	_, stderr, code = radmfa(t, dir, "", "--config", ldapConfig(t, dir, s, ""), "check-config")
	if code != 1 || !strings.Contains(stderr, "backend unavailable") {
		t.Fatalf("directory down: exit %d %q", code, stderr)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDirectoryWarnings(t *testing.T) {
	for _, tt := range []struct {
		name string
		l    func(*config)
		want string // "" no warning
	}{
		{"careful", func(c *config) { c.LDAP.SecretAttribute, c.LDAP.PhoneAttribute = "radmfaSecret", "radmfaPhone" }, ""},
		{"self-writable phone", func(c *config) { c.LDAP.PhoneAttribute = "telephoneNumber" }, "a phished password can redirect SMS codes"},
		{"readable secrets", func(c *config) { c.LDAP.SecretAttribute = "userParameters" }, "every domain user can read it"},
		{"writable secrets", func(c *config) { c.LDAP.SecretAttribute = "info" }, "enrol any device they like"},
		{"no verification", func(c *config) { c.LDAP.InsecureSkipVerify = true }, "anyone on the path"},
		{"plain loopback", func(c *config) { c.LDAP.URL = "ldap://127.0.0.1" }, "in clear"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &config{}
			c.LDAP.URL, c.LDAP.BaseDN = "ldaps://dc", "dc=x"
			tt.l(c)
			got := strings.Join(directoryWarnings(c), "\n")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
