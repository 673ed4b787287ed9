package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// radmfaBin is the radmfa binary built for this test run.
var radmfaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radmfa-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	radmfaBin = filepath.Join(dir, "radmfa")
	build := exec.Command("go", "build", "-o", radmfaBin, "../exec")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building radmfa:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips the test when a tool is missing, or fails it under CI=true:
// in CI a skipped test would be a failed promise.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: CI never skips, run scripts/deps.sh first", tool)
			}
			t.Skipf("%s is not installed (scripts/deps.sh installs it)", tool)
		}
	}
}

// env is a radmfa installation in a temp dir: config file and data.
type env struct {
	dir    string
	config string
}

func newEnv(t *testing.T, extraConfig string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, config: filepath.Join(dir, "radmfa.toml")}
	cfg := "data_dir = \"data\"\n\n[log]\nfile = \"radmfa.log\"\n" + extraConfig
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "radmfa.log")); err == nil {
				t.Logf("radmfa log:\n%s", tail(string(b), 40))
			}
		}
	})
	return e
}

// radmfa runs the binary with --config and returns stdout; it fails the
// test on a non-zero exit.
func (e *env) radmfa(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, code := e.run(t, stdin, nil, args...)
	if code != 0 {
		t.Fatalf("radmfa %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// run runs the binary with --config, the given environment and stdin, and
// returns combined output and the exit code.
func (e *env) run(t *testing.T, stdin string, environ []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(radmfaBin, append([]string{"--config", e.config}, args...)...)
	cmd.Env = environ
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// freeRADIUS is a running FreeRADIUS server on loopback.
type freeRADIUS struct {
	dir    string
	port   int
	secret string
	out    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a UDP port on loopback that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// snippet copies a shipped FreeRADIUS snippet into dir under the same
// name, replacing the install paths (and nothing else) with this test's;
// each replacement must happen exactly once, so a change to the snippet
// cannot silently escape the test.
func snippet(t *testing.T, dir, name string, replace ...string) {
	t.Helper()
	snippetAs(t, dir, name, name, replace...)
}

// snippetAs is snippet with another destination name (mods-available/x
// goes to mods-enabled/x).
func snippetAs(t *testing.T, dir, name, dest string, replace ...string) {
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
	dst := filepath.Join(dir, dest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Front doors FreeRADIUS can use to reach radmfa.
const (
	viaExec = "exec" // rlm_exec -> radmfa exec
	viaREST = "rest" // rlm_rest -> radmfa serve
)

// startFreeRADIUS runs threaded FreeRADIUS (-f, not the single-threaded
// -X) wired to radmfa through the shipped snippets for the front door:
// radmfa exec, or radmfa serve at serveURL.
func startFreeRADIUS(t *testing.T, e *env, door, serveURL string) *freeRADIUS {
	t.Helper()
	return startFreeRADIUSExtra(t, e, door, serveURL, nil)
}

// startFreeRADIUSExtra is startFreeRADIUS with extra files in the config
// dir (name relative to it: "sites-enabled/clients", …). Files in
// sites-enabled/ are included at the top level, so they may also define
// clients.
func startFreeRADIUSExtra(t *testing.T, e *env, door, serveURL string, extra map[string]string) *freeRADIUS {
	t.Helper()
	need(t, "freeradius", "radclient")
	dir := filepath.Join(t.TempDir(), "raddb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fr := &freeRADIUS{dir: dir, port: freePort(t), secret: "testing123", out: &lockedBuffer{}}
	port := "port = " + strconv.Itoa(fr.port)
	switch door {
	case viaExec:
		snippetAs(t, dir, "mods-available/radmfa", "mods-enabled/radmfa", "/usr/local/bin/radmfa", radmfaBin, "/etc/radmfa/radmfa.toml", e.config)
		snippet(t, dir, "policy.d/radmfa")
		snippetAs(t, dir, "sites-available/radmfa", "sites-enabled/radmfa", "port = 1812", port)
	case viaREST:
		snippetAs(t, dir, "mods-available/radmfa_rest", "mods-enabled/radmfa_rest", "http://127.0.0.1:18122/", serveURL+"/")
		snippet(t, dir, "policy.d/radmfa_rest")
		snippetAs(t, dir, "sites-available/radmfa_rest", "sites-enabled/radmfa_rest", "port = 1812", port)
	default:
		t.Fatalf("unknown front door %q", door)
	}
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runFreeRADIUS(t, fr, dir)
	return fr
}

// runFreeRADIUS writes radiusd.conf into dir, starts threaded FreeRADIUS
// on it, waits until it is ready and stops it at the end of the test.
func runFreeRADIUS(t *testing.T, fr *freeRADIUS, dir string) {
	t.Helper()
	snippetAs(t, dir, "radiusd-minimal.conf", "radiusd.conf", "{{DIR}}", dir)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "freeradius", "-f", "-xx", "-l", "stdout", "-d", dir)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = fr.out, fr.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("FreeRADIUS output (tail):\n%s", tail(fr.out.String(), 80))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(fr.out.String(), "Ready to process requests") {
		select {
		case err := <-done:
			t.Fatalf("freeradius exited: %v\n%s", err, fr.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("freeradius not ready after 15 s:\n%s", tail(fr.out.String(), 40))
		}
	}
}

// serveProc is a running "radmfa serve".
type serveProc struct {
	url    string // http://127.0.0.1:PORT
	socket string // unix socket path
	cmd    *exec.Cmd
	out    *lockedBuffer
}

// serveConfig is the [serve] section for a serve on a free port and a
// socket in dir.
func serveConfig(t *testing.T, dir string) (string, string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	sock := filepath.Join(dir, "radmfa.sock")
	return fmt.Sprintf("\n[serve]\nlisten = [%q, %q]\n", addr, "unix:"+sock), "http://" + addr, sock
}

// startServe runs "radmfa serve" with the env's config (which must name
// the listeners) and waits until /healthz answers. It is stopped with
// SIGTERM at the end of the test, which must make it exit 0.
func startServe(t *testing.T, e *env, url, socket string) *serveProc {
	t.Helper()
	p := &serveProc{url: url, socket: socket, out: &lockedBuffer{}}
	p.cmd = exec.Command(radmfaBin, "--config", e.config, "serve")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("radmfa serve exited with %v after SIGTERM\n%s", err, tail(p.out.String(), 20))
			}
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("radmfa serve did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("radmfa serve log (tail):\n%s", tail(p.out.String(), 40))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("radmfa serve exited: %v\n%s", err, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("radmfa serve not healthy after 15 s:\n%s", tail(p.out.String(), 40))
		}
	}
}

// reply is what radclient received.
type reply struct {
	Code  string              // Access-Accept, Access-Reject, Access-Challenge
	Attrs map[string][]string // attribute values as radclient prints them (strings unquoted)
}

func (r reply) get(name string) string {
	if v := r.Attrs[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

var receivedRE = regexp.MustCompile(`(?m)^Received (Access-\w+) Id`)

// send sends one Access-Request through radclient. attrs are radclient
// input lines such as `User-Name = "bob"`.
func (fr *freeRADIUS) send(t *testing.T, attrs ...string) reply {
	t.Helper()
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "20", fmt.Sprintf("127.0.0.1:%d", fr.port), "auth", fr.secret)
	cmd.Stdin = strings.NewReader(strings.Join(attrs, ",\n") + "\n")
	out, _ := cmd.CombinedOutput() // exits 1 for anything but Access-Accept
	r, ok := parseRadclient(out)
	if !ok {
		t.Fatalf("radclient got no reply:\n%s", out)
	}
	return r
}

// str quotes a value for radclient's input: a double-quoted string with
// backslash escapes.
func str(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
