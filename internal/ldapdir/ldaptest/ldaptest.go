// Package ldaptest starts throwaway OpenLDAP slapd servers for tests: on
// loopback, in a temp dir, with LDAP and LDAPS (certificates from a CA
// made at test time), the test schema of testdata/ldap (AD-like attributes
// such as userParameters) and, when seeded, the users of
// testdata/ldap/*.ldif, whose secrets are in every format radmfa reads.
//
// The ACLs are like a careful Active Directory's: only the service
// accounts read the secret attributes, and only ServiceDN writes them.
//
// Tests that need slapd call Need (it skips without slapd, or fails under
// CI=true: a skipped test there would be a broken promise).
package ldaptest

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
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test directory's suffix and accounts (testdata/ldap/00-base.ldif).
const (
	Base      = "dc=example,dc=test"
	RootDN    = "cn=admin,dc=example,dc=test"
	RootPW    = "root-pw"
	ServiceDN = "cn=radmfa,ou=services,dc=example,dc=test" // reads users, writes the secret attributes
	ServicePW = "service-pw"
	ReaderDN  = "cn=reader,ou=services,dc=example,dc=test" // reads users and secrets, writes nothing
	ReaderPW  = "reader-pw"
)

// UserDN is the DN of a test user (testdata/ldap/10-users.ldif).
func UserDN(uid string) string { return "uid=" + uid + ",ou=people," + Base }

// TestdataDir is testdata/ldap of the repository.
func TestdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "ldap")
}

// SlapdPath finds slapd, which Debian installs in /usr/sbin (not on every
// PATH).
func SlapdPath() (string, error) {
	if p, err := exec.LookPath("slapd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/slapd"); err == nil {
		return "/usr/sbin/slapd", nil
	}
	return "", errors.New("slapd is not installed")
}

// Need returns slapd's path, or skips the test when slapd or ldap-utils
// are missing; under CI=true it fails instead.
func Need(t testing.TB) string {
	t.Helper()
	p, err := SlapdPath()
	if err == nil {
		for _, tool := range []string{"ldapadd", "ldapsearch", "ldapmodify"} {
			if _, e := exec.LookPath(tool); e != nil {
				err = fmt.Errorf("%s (ldap-utils) is not installed", tool)
				break
			}
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

// Server is a running slapd.
type Server struct {
	Dir      string // its temp dir (config, database, certificates, log)
	LDAPURL  string // ldap://127.0.0.1:PORT (StartTLS works too)
	LDAPSURL string // ldaps://127.0.0.1:PORT
	CAFile   string // the PEM CA that signed its certificate

	cmd    *exec.Cmd
	log    string // its debug output (-d stats)
	exited chan struct{}
}

// Start writes a slapd.conf and the certificate into dir, starts slapd on
// two free loopback ports, waits until it answers and, with seed, loads
// testdata/ldap/*.ldif with ldapadd.
func Start(bin, dir string, caPEM, certPEM, keyPEM []byte, seed bool) (*Server, error) {
	abs, err := filepath.Abs(TestdataDir())
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), log: filepath.Join(dir, "slapd.log"), exited: make(chan struct{})}
	files := map[string][]byte{"ca.pem": caPEM, "server.pem": certPEM, "server.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	s.LDAPURL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
	conf := fmt.Sprintf(slapdConf, filepath.Join(abs, "radmfa-test.schema"), dir, Base, RootDN, RootPW, ServiceDN, ReaderDN)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "-f", confPath, "-h", s.LDAPURL+"/ "+s.LDAPSURL+"/", "-d", "stats")
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
		s.Stop()
		return nil, fmt.Errorf("%w\nslapd output:\n%s", err, s.Tail(30))
	}
	if seed {
		ldifs, err := filepath.Glob(filepath.Join(abs, "*.ldif"))
		if err != nil {
			return nil, err
		}
		sort.Strings(ldifs)
		for _, f := range ldifs {
			out, err := exec.Command("ldapadd", "-x", "-H", s.LDAPURL, "-D", RootDN, "-w", RootPW, "-f", f).CombinedOutput()
			if err != nil {
				s.Stop()
				return nil, fmt.Errorf("ldapadd %s: %v\n%s", filepath.Base(f), err, out)
			}
		}
	}
	return s, nil
}

// StartSeeded starts a seeded slapd of the test's own, with a certificate
// valid for a day from a new CA, and stops it when the test ends.
func StartSeeded(t testing.TB) *Server {
	t.Helper()
	bin := Need(t)
	pki, err := NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.Issue(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(bin, t.TempDir(), pki.CAPEM, cert, key, true)
	if err != nil {
		t.Fatalf("starting slapd: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("slapd output (tail):\n%s", s.Tail(20))
		}
	})
	return s
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

func (s *Server) waitReady(ports []int, limit time.Duration) error {
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

// Stop ends slapd with SIGTERM (it then closes its database cleanly), or
// kills it after 10 s.
func (s *Server) Stop() {
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

// Pause stops slapd with SIGSTOP: it keeps its sockets, so connections
// succeed and then nothing answers (a hung directory). Resume undoes it.
//
// It returns once every thread of slapd has stopped: kill(2) returns
// before a running thread halts, and such a thread could still answer a
// request sent meanwhile (seen in CI on a loaded machine).
func (s *Server) Pause() error {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return waitStopped(s.cmd.Process.Pid, 5*time.Second)
}

// waitStopped waits until every thread of the process is stopped, as
// /proc shows it (state T). Without /proc it returns at once.
func waitStopped(pid int, within time.Duration) error {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	deadline := time.Now().Add(within)
	for {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return nil // no /proc: nothing to wait on
		}
		stopped := 0
		for _, task := range tasks {
			b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			if err != nil {
				continue // the thread ended
			}
			// "pid (comm) S ...": the state follows the last ')'.
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
				stopped++
			}
		}
		if stopped == len(tasks) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ldaptest: slapd (pid %d) not stopped %s after SIGSTOP", pid, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Resume continues a paused slapd.
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Tail returns the last lines of slapd's output.
func (s *Server) Tail(lines int) string {
	b, _ := os.ReadFile(s.log)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Search runs the real ldapsearch as the root DN and returns its LDIF
// (unwrapped), to see the directory as an admin would.
func (s *Server) Search(t testing.TB, filter string, attrs ...string) string {
	t.Helper()
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.LDAPURL, "-D", RootDN, "-w", RootPW, "-b", Base, filter}, attrs...)
	out, err := exec.Command("ldapsearch", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	return string(bytes.TrimSpace(out))
}

// Modify runs the real ldapmodify as the root DN with the LDIF.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.LDAPURL, "-D", RootDN, "-w", RootPW)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapmodify: %v\n%s", err, out)
	}
}

// FreePorts returns TCP ports on loopback that were free a moment ago.
func FreePorts(n int) ([]int, error) {
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

// PKI is a CA made for one test run.
type PKI struct {
	CAPEM  []byte
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// NewPKI makes a CA valid for a day.
func NewPKI() (*PKI, error) {
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
	return &PKI{CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caCert: cert, caKey: key}, nil
}

var serial struct {
	sync.Mutex
	n int64
}

// Issue makes a server certificate for 127.0.0.1 and localhost, valid
// from notBefore to notAfter, and returns it and its key as PEM.
func (p *PKI) Issue(notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
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
