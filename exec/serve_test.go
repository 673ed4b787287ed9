package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/mfa"
)

// testServer starts radmfa serve in-process on a TCP port and a unix
// socket in dir, with user alice enrolled.
func testServer(t *testing.T, dir string) (*server, string, string) {
	t.Helper()
	if _, stderr, code := radmfa(t, dir, testSecret+"\n", "user", "add", "alice", "--secret", "-", "--json"); code != 0 {
		t.Fatal(stderr)
	}
	sock := filepath.Join(dir, "radmfa.sock")
	cfg := &config{DataDir: dir}
	cfg.Store.Path = filepath.Join(dir, "radmfa.db")
	cfg.Serve.Listen = []string{"127.0.0.1:0", "unix:" + sock}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s, err := startServer(context.Background(), cfg, zerolog.Nop(), serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.shutdown(5 * time.Second) })
	return s, "http://" + s.listeners[0].Addr().String(), sock
}

func aliceCode(t *testing.T, offset int64) string {
	t.Helper()
	dev := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret("12345678901234567890")}
	c, err := mfa.Code(dev, mfa.Step(dev, time.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func post(t *testing.T, base, body string) (int, map[string]map[string]any) {
	t.Helper()
	resp, err := http.Post(base+"/radius/authorize?client=vpn&ip=127.0.0.1", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

func restBody(user, pass string, extra ...string) string {
	b, _ := rlmrest.EncodeRequest(mfa.Request{UserName: user, Passcode: mfa.Secret(pass)}, rlmrest.Packet{})
	s := string(b)
	for _, e := range extra {
		s = strings.TrimSuffix(s, "}") + "," + e + "}"
	}
	return s
}

func TestServeDecisions(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := testServer(t, dir)
	code := aliceCode(t, 0)
	status, m := post(t, base, restBody("alice", code))
	if status != 200 || m["control:Auth-Type"]["value"] != "Accept" {
		t.Fatalf("accept: %d %v", status, m)
	}
	status, m = post(t, base, restBody("alice", code))
	if status != 401 || m["reply:Reply-Message"]["value"] != mfa.MsgCodeUsed || m["reply:Reply-Message"]["do_xlat"] != false {
		t.Fatalf("replay: %d %v", status, m)
	}
	status, m = post(t, base, restBody("alice", ""))
	state, _ := m["reply:State"]["value"].(string)
	if status != 200 || m["control:Response-Packet-Type"]["value"] != "Access-Challenge" || len(state) != 34 {
		t.Fatalf("challenge: %d %v", status, m)
	}
	status, m = post(t, base, restBody("alice", aliceCode(t, 1), `"State":{"type":"octets","value":["`+state+`"]}`))
	if status != 200 || m["control:Auth-Type"]["value"] != "Accept" {
		t.Fatalf("challenge answer: %d %v", status, m)
	}
}

func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := testServer(t, dir)
	tests := []struct {
		name, body string
		status     int
	}{
		{"not json", "User-Name=alice", 401},
		{"truncated", `{"User-Name":{"type":"string","value":["al`, 401},
		{"huge", `{"User-Name":{"type":"string","value":["` + strings.Repeat("a", 70000) + `"]}}`, 401},
		{"no user name", `{"User-Password":{"type":"string","value":["123456"]}}`, 401},
		{"wrong type", `{"User-Name":{"type":"string","value":[{"x":1}]}}`, 401},
		{"unknown attributes", restBody("alice", "000000", `"Foo-Bar":{"type":"string","value":["x"]}`), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := post(t, base, tt.body)
			if status != tt.status || m["reply:Reply-Message"]["value"] != mfa.MsgFailed {
				t.Fatalf("got %d %v, want %d", status, m, tt.status)
			}
		})
	}
	evOut, _, _ := radmfa(t, dir, "", "report", "activity", "--json")
	var evs []eventJSON
	json.Unmarshal([]byte(evOut), &evs)
	if len(evs) != len(tests) {
		t.Fatalf("%d events, want %d (one per bad request)", len(evs), len(tests))
	}
	for _, e := range evs {
		if e.FrontDoor != "rest" || e.Result != "Failure" {
			t.Fatalf("event %+v", e)
		}
	}
}

// TestServeSlowClient holds a connection open mid-header: the daemon
// keeps serving others and drops the slow one.
func TestServeSlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the header timeout")
	}
	dir := t.TempDir()
	_, base, _ := testServer(t, dir)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /radius/authorize HTTP/1.1\r\nHost: x\r\n")
	if status, _ := post(t, base, restBody("alice", "000000")); status != 401 {
		t.Fatalf("other client: %d", status)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c) // the server answers 408 or just closes
	if err != nil || time.Since(start) > 8*time.Second {
		t.Fatalf("slow client not dropped by the header timeout: %v after %s", err, time.Since(start))
	}
}

func TestServeHealthAndMetrics(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := testServer(t, dir)
	post(t, base, restBody("alice", "000000"))
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`radmfa_decisions_total{front_door="rest",result="reject",client="vpn"} 1`,
		`radmfa_decision_duration_seconds_count{front_door="rest"} 1`,
		"radmfa_pending_challenges 0",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	if resp, _ := http.Get(base + "/radius/authorize"); resp.StatusCode != 405 {
		t.Fatalf("GET authorize: %d", resp.StatusCode)
	}
}

func TestExecForwardsToDaemon(t *testing.T) {
	dir := t.TempDir()
	s, _, sock := testServer(t, dir)
	cfgPath := filepath.Join(dir, "radmfa.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("[exec]\ndaemon = \"unix:%s\"\n[store]\npath = %q\n", sock, filepath.Join(dir, "radmfa.db"))), 0o600)
	execOnce := func(pass string) (int, string) {
		var out, errb bytes.Buffer
		environ := []string{"RADMFA_CONFIG=" + cfgPath, `USER_NAME="alice"`, `USER_PASSWORD="` + pass + `"`}
		code := run(context.Background(), []string{"exec", "--client-name=vpn"}, environ, strings.NewReader(""), &out, &errb)
		return code, out.String()
	}
	code := aliceCode(t, 0)
	if got, out := execOnce(code); got != 0 || out != "" {
		t.Fatalf("via daemon: exit %d %q", got, out)
	}
	if got, out := execOnce(code); got != 1 || !strings.Contains(out, "already used") {
		t.Fatalf("replay via daemon: exit %d %q", got, out)
	}
	// Shutting down: the daemon answers "no reply", exec exits 6.
	s.handler.Drain()
	if got, out := execOnce(aliceCode(t, 1)); got != 6 || out != "" {
		t.Fatalf("draining daemon: exit %d %q", got, out)
	}
	// Daemon gone: exec decides locally with the same database.
	s.shutdown(5 * time.Second)
	if got, _ := execOnce(aliceCode(t, 1)); got != 0 {
		t.Fatalf("daemon down: exit %d, want a local accept", got)
	}
	evOut, _, _ := radmfa(t, dir, "", "report", "activity", "--json")
	var evs []eventJSON
	json.Unmarshal([]byte(evOut), &evs)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	for _, e := range evs {
		if e.FrontDoor != "exec" || e.Client != "vpn" {
			t.Fatalf("event %+v: want front door exec and client vpn", e)
		}
	}
}

// TestServeTLS serves the TCP listener over HTTPS from cert/key files while
// the unix socket stays plain.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	cfg := &config{DataDir: dir}
	cfg.Store.Path = filepath.Join(dir, "radmfa.db")
	cfg.Serve.Listen = []string{"127.0.0.1:0", "unix:" + filepath.Join(dir, "radmfa.sock")}
	cfg.Serve.TLSCert, cfg.Serve.TLSKey = certFile, keyFile
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s, err := startServer(context.Background(), cfg, zerolog.Nop(), serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown(5 * time.Second)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + s.listeners[0].Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https healthz: %v %v", resp, err)
	}
	unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(dir, "radmfa.sock"))
	}}}
	resp, err = unix.Get("http://radmfa/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unix healthz: %v %v", resp, err)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1.
func writeTestCert(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "radmfa test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
