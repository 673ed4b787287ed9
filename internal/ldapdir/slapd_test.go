package ldapdir

// The harness: a throwaway OpenLDAP slapd on loopback, in a temp dir, with
// LDAP and LDAPS (a CA and server certificate made here at test time), the
// test schema and the users of testdata/ldap. One instance is shared by the
// package's tests and stopped by TestMain; tests that need another
// certificate start their own.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

const (
	testBase   = "dc=example,dc=test"
	testRootDN = "cn=admin,dc=example,dc=test"
	testRootPW = "root-pw"
	serviceDN  = "cn=radmfa,ou=services,dc=example,dc=test"
	servicePW  = "service-pw"
	readerDN   = "cn=reader,ou=services,dc=example,dc=test"
	readerPW   = "reader-pw"
)

// testdataDir holds the schema and LDIF files.
var testdataDir = filepath.Join("..", "..", "testdata", "ldap")

var shared struct {
	once sync.Once
	pki  *testPKI
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

// slapdPath finds slapd, which Debian installs in /usr/sbin (not on every
// PATH).
func slapdPath() (string, error) {
	if p, err := exec.LookPath("slapd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/slapd"); err == nil {
		return "/usr/sbin/slapd", nil
	}
	return "", errors.New("slapd is not installed")
}

// needSlapd skips the test when slapd or ldap-utils are missing, or fails
// it under CI=true: in CI a skipped test would be a failed promise.
func needSlapd(t testing.TB) string {
	t.Helper()
	p, err := slapdPath()
	if err == nil {
		_, err = exec.LookPath("ldapadd")
		if err != nil {
			err = errors.New("ldapadd (ldap-utils) is not installed")
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: CI never skips, run scripts/deps.sh first", err)
		}
		t.Skipf("%v (scripts/deps.sh installs slapd and ldap-utils)", err)
	}
	return p
}

// testSlapd returns the shared slapd, starting it on first use.
func testSlapd(t *testing.T) *slapd {
	t.Helper()
	bin := needSlapd(t)
	shared.once.Do(func() {
		shared.pki, shared.err = newTestPKI()
		if shared.err != nil {
			return
		}
		dir, err := os.MkdirTemp("", "radmfa-slapd-")
		if err != nil {
			shared.err = err
			return
		}
		cert, key, err := shared.pki.issue(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		if err != nil {
			shared.err = err
			return
		}
		shared.s, shared.err = startSlapd(bin, dir, shared.pki.caPEM, cert, key, true)
	})
	if shared.err != nil {
		t.Fatalf("starting slapd: %v", shared.err)
	}
	return shared.s
}

// slapd is a running slapd.
type slapd struct {
	dir      string
	ldapURL  string
	ldapsURL string
	caFile   string
	cmd      *exec.Cmd
	log      string // its debug output (-d stats)
	exited   chan struct{}
}

// startSlapd writes a slapd.conf and certificates into dir, starts slapd on
// two free loopback ports, waits until it answers and, with seed, loads
// testdata/ldap/*.ldif with ldapadd.
func startSlapd(bin, dir string, caPEM, certPEM, keyPEM []byte, seed bool) (*slapd, error) {
	abs, err := filepath.Abs(testdataDir)
	if err != nil {
		return nil, err
	}
	s := &slapd{dir: dir, caFile: filepath.Join(dir, "ca.pem"), log: filepath.Join(dir, "slapd.log"), exited: make(chan struct{})}
	files := map[string][]byte{"ca.pem": caPEM, "server.pem": certPEM, "server.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s.ldapURL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
	s.ldapsURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
	conf := fmt.Sprintf(slapdConf, filepath.Join(abs, "radmfa-test.schema"), dir, testBase, testRootDN, testRootPW, serviceDN, readerDN)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "-f", confPath, "-h", s.ldapURL+"/ "+s.ldapsURL+"/", "-d", "stats")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	dieWithParent(s.cmd) // no slapd left running if the test binary is killed
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ports, 15*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\nslapd output:\n%s", err, s.tail(30))
	}
	if seed {
		ldifs, err := filepath.Glob(filepath.Join(abs, "*.ldif"))
		if err != nil {
			return nil, err
		}
		sort.Strings(ldifs)
		for _, f := range ldifs {
			out, err := exec.Command("ldapadd", "-x", "-H", s.ldapURL, "-D", testRootDN, "-w", testRootPW, "-f", f).CombinedOutput()
			if err != nil {
				s.stop()
				return nil, fmt.Errorf("ldapadd %s: %v\n%s", filepath.Base(f), err, out)
			}
		}
	}
	return s, nil
}

// slapdConf is the server's configuration: the standard schemas plus the
// test schema, an mdb database, the memberof overlay (memberOf as in AD),
// and ACLs like a careful AD: only the service accounts read the secret
// attributes, only the radmfa account writes them.
const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include %[1]s
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
TLSCACertificateFile %[2]s/ca.pem
TLSCertificateFile %[2]s/server.pem
TLSCertificateKeyFile %[2]s/server.key
sizelimit 500

database mdb
maxsize 67108864
suffix "%[3]s"
rootdn "%[4]s"
rootpw %[5]s
directory %[2]s/db
overlay memberof

access to attrs=userPassword
	by anonymous auth
	by * none
access to attrs=radmfaSecret,radmfaOTPAuth,userParameters
	by dn.exact="%[6]s" write
	by dn.exact="%[7]s" read
	by * none
access to *
	by dn.exact="%[6]s" read
	by dn.exact="%[7]s" read
	by users read
	by * none
`

func (s *slapd) waitReady(ports []int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.exited:
				return errors.New("slapd exited")
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("slapd did not listen on port %d within %s", p, limit)
			}
		}
	}
	return nil
}

// stop ends slapd with SIGTERM (it then closes its database cleanly), or
// kills it after 10 s.
func (s *slapd) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// tail returns the last lines of slapd's output.
func (s *slapd) tail(lines int) string {
	b, _ := os.ReadFile(s.log)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// freePorts returns TCP ports on loopback that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// testPKI is a CA made for one test run.
type testPKI struct {
	caPEM  []byte
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newTestPKI() (*testPKI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "radmfa test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caCert: cert, caKey: key}, nil
}

var serial struct {
	sync.Mutex
	n int64
}

// issue makes a server certificate for 127.0.0.1 and localhost, valid
// from notBefore to notAfter, and returns it and its key as PEM.
func (p *testPKI) issue(notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial.Lock()
	serial.n++
	sn := big.NewInt(100 + serial.n)
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), nil
}

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

// ldapsearch runs the real ldapsearch as the root DN and returns its LDIF,
// to see the directory as an admin would.
func (s *slapd) ldapsearch(t *testing.T, filter string, attrs ...string) string {
	t.Helper()
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.ldapURL, "-D", testRootDN, "-w", testRootPW, "-b", testBase, filter}, attrs...)
	out, err := exec.Command("ldapsearch", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(bytes.TrimSpace(out))
}
