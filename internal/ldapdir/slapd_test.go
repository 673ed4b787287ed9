package ldapdir

// The harness: a throwaway OpenLDAP slapd on loopback (ldaptest), with
// LDAP and LDAPS, the test schema and the users of testdata/ldap. One
// instance is shared by the package's tests and stopped by TestMain; tests
// that need another certificate start their own.

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/ldapdir/ldaptest"
	"github.com/radmfa/radmfa/internal/mfa"
)

const (
	testBase   = ldaptest.Base
	testRootDN = ldaptest.RootDN
	testRootPW = ldaptest.RootPW
	serviceDN  = ldaptest.ServiceDN
	servicePW  = ldaptest.ServicePW
	readerDN   = ldaptest.ReaderDN
	readerPW   = ldaptest.ReaderPW
)

var shared struct {
	once sync.Once
	pki  *ldaptest.PKI
	s    *slapd
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.s != nil {
		shared.s.stop()
		os.RemoveAll(shared.s.dir)
	}
	os.Exit(code)
}

// needSlapd skips the test when slapd or ldap-utils are missing, or fails
// it under CI=true.
func needSlapd(t testing.TB) string { return ldaptest.Need(t) }

// testSlapd returns the shared slapd, starting it on first use.
func testSlapd(t *testing.T) *slapd {
	t.Helper()
	bin := needSlapd(t)
	shared.once.Do(func() {
		shared.pki, shared.err = ldaptest.NewPKI()
		if shared.err != nil {
			return
		}
		dir, err := os.MkdirTemp("", "radmfa-slapd-")
		if err != nil {
			shared.err = err
			return
		}
		cert, key, err := shared.pki.Issue(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		if err != nil {
			shared.err = err
			return
		}
		shared.s, shared.err = startSlapd(bin, dir, shared.pki.CAPEM, cert, key, true)
	})
	if shared.err != nil {
		t.Fatalf("starting slapd: %v", shared.err)
	}
	return shared.s
}

// slapd is a running ldaptest.Server, with the names the tests use.
type slapd struct {
	*ldaptest.Server
	dir      string
	ldapURL  string
	ldapsURL string
	caFile   string
}

func startSlapd(bin, dir string, caPEM, certPEM, keyPEM []byte, seed bool) (*slapd, error) {
	s, err := ldaptest.Start(bin, dir, caPEM, certPEM, keyPEM, seed)
	if err != nil {
		return nil, err
	}
	return &slapd{Server: s, dir: s.Dir, ldapURL: s.LDAPURL, ldapsURL: s.LDAPSURL, caFile: s.CAFile}, nil
}

func (s *slapd) stop() { s.Stop() }

func freePorts(n int) ([]int, error) { return ldaptest.FreePorts(n) }

// testConfig is a Config for the shared slapd: the radmfa service account,
// base32 secrets in radmfaSecret, mobile and mail. mut changes it.
func (s *slapd) testConfig(t *testing.T, mut func(*Config)) Config {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "ldap-password")
	if err := os.WriteFile(pw, []byte(servicePW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Config{
		URL:              s.ldapURL,
		BindDN:           serviceDN,
		BindPasswordFile: pw,
		BaseDN:           testBase,
		UserFilter:       "(&(objectClass=inetOrgPerson)(uid=%s))",
		SecretAttribute:  "radmfaSecret",
		SecretFormat:     "base32",
		PhoneAttribute:   "mobile",
		EmailAttribute:   "mail",
		Timeout:          mfa.Duration(5 * time.Second),
	}
	if mut != nil {
		mut(&c)
	}
	return c
}

// newTestDirectory opens a Directory and closes it when the test ends.
func newTestDirectory(t *testing.T, cfg Config) *Directory {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// writeFile writes b to a file in a temp dir and returns its path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ldapsearch runs the real ldapsearch as the root DN and returns its LDIF.
func (s *slapd) ldapsearch(t *testing.T, filter string, attrs ...string) string {
	t.Helper()
	return s.Search(t, filter, attrs...)
}
