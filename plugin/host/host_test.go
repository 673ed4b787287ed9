package host

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Binaries built once for the tests.
var (
	testPlugin    string // internal/testplugin
	examplePlugin string // ../internal/exampleplugin
	radmfaBin     string // ../../exec, serving the built-ins
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radmfa-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	examplePlugin = filepath.Join(dir, "exampleplugin")
	radmfaBin = filepath.Join(dir, "radmfa")
	for _, b := range []struct{ out, pkg string }{
		{testPlugin, "./internal/testplugin"},
		{examplePlugin, "../internal/exampleplugin"},
		{radmfaBin, "../../exec"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a log sink that tests can read while plugins write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fixture is a started test plugin with its files.
type fixture struct {
	n    *Notifier
	log  *syncBuffer
	out  string // notifications it recorded
	pids string // one pid per start
}

// startTestPlugin starts internal/testplugin with cfg's timeouts.
func startTestPlugin(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{log: &syncBuffer{}, out: filepath.Join(dir, "out.jsonl"), pids: filepath.Join(dir, "pids")}
	cfg := Config{
		Path:     testPlugin,
		SHA256:   sha256File(t, testPlugin),
		Timeout:  mfa.Duration(timeout),
		Env:      []string{"TESTPLUGIN_PIDS=" + f.pids},
		Settings: map[string]any{"out_file": f.out},
	}
	n, err := New("test", cfg, Options{Logger: zerolog.New(f.log).Level(zerolog.DebugLevel).With().Str("component", "plugin").Logger(), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	n.pollInterval = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, f.log)
	}
	t.Cleanup(func() {
		n.Close()
		if t.Failed() {
			t.Logf("log:\n%s", f.log)
		}
	})
	f.n = n
	return f
}

// records returns what the plugin recorded.
func (f *fixture) records(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(f.out)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func (f *fixture) pidList(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(f.pids)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(l)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

var (
	requestTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	approvalURL = "https://mfa.example.com/approve/Zm9vYmFyYmF6cXV4cXV1eA"
)

func pushNote(user string) mfa.Notification {
	return mfa.Notification{
		Kind: mfa.NotifyPush, User: user, Subject: "Sign in?",
		Push: &mfa.PushNotice{ApprovalURL: mfa.Secret(approvalURL), Resource: "VPN", Organisation: "Example",
			ClientIP: "192.0.2.7", RequestTime: requestTime, Expires: requestTime.Add(25 * time.Second),
			Variant: "ack", RequestCode: "42"},
	}
}

func codeNote(user, code string) mfa.Notification {
	return mfa.Notification{Kind: mfa.NotifyCode, User: user, To: "+441234567889", Text: "Your code: {code}", Code: mfa.Secret(code)}
}

func TestNotifyRoundTrip(t *testing.T) {
	f := startTestPlugin(t, 5*time.Second)
	tests := []struct {
		name string
		note mfa.Notification
		want map[string]any
	}{
		{"push", pushNote("alice"), map[string]any{"kind": "push", "user": "alice", "approval_url": approvalURL,
			"resource": "VPN", "client_ip": "192.0.2.7", "request_time": "2026-03-04T05:06:07Z",
			"expires": "2026-03-04T05:06:32Z", "variant": "ack", "request_code": "42", "subject": "Sign in?"}},
		{"code", codeNote("bob", "493817"), map[string]any{"kind": "code", "user": "bob", "to": "+441234567889",
			"code": "493817", "text": "Your code: {code}"}},
		{"alert", mfa.Notification{Kind: mfa.NotifyAlert, User: "carol", Text: "Push denied: it wasn't me"},
			map[string]any{"kind": "alert", "user": "carol", "text": "Push denied: it wasn't me", "code": ""}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := f.n.Notify(context.Background(), tt.note)
			if err != nil {
				t.Fatal(err)
			}
			if want := (mfa.Delivery{ID: "n-" + strconv.Itoa(i+1), Status: "sent", Detail: "recorded"}); d != want {
				t.Fatalf("delivery %+v, want %+v", d, want)
			}
			recs := f.records(t)
			if len(recs) != i+1 {
				t.Fatalf("%d records, want %d", len(recs), i+1)
			}
			got := recs[i]
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("plugin got %s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	t.Run("invalid notification", func(t *testing.T) {
		_, err := f.n.Notify(context.Background(), mfa.Notification{Kind: mfa.NotifyPush, User: "x"})
		if err == nil || !strings.Contains(err.Error(), "without an approval URL") {
			t.Fatalf("got %v, want a refusal", err)
		}
	})
	t.Run("plugin error is scrubbed", func(t *testing.T) {
		d, err := f.n.Notify(context.Background(), codeNote("error", "771234"))
		if err == nil || !strings.Contains(err.Error(), "gateway refused code [redacted]") {
			t.Fatalf("got %v, want the plugin's error with the code redacted", err)
		}
		if d.Status != "failed" || strings.Contains(d.Detail, "771234") {
			t.Fatalf("delivery %+v, want failed without the code", d)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.n.Notify(context.Background(), codeNote(fmt.Sprintf("u%d", i), "123456")); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	// The secrets never reached radmfa's log, though the plugin logged the
	// requests.
	log := f.log.String()
	for _, s := range []string{approvalURL, "493817", "771234"} {
		if strings.Contains(log, s) {
			t.Errorf("log contains secret %q:\n%s", s, log)
		}
	}
	if !strings.Contains(log, `"message":"testplugin notify"`) || !strings.Contains(log, `"plugin":"test"`) {
		t.Errorf("log lacks the plugin's records with plugin=test:\n%s", log)
	}
}

func TestCrashMidNotify(t *testing.T) {
	f := startTestPlugin(t, 5*time.Second)
	start := time.Now()
	d, err := f.n.Notify(context.Background(), codeNote("crash", "111111"))
	if err == nil || !strings.Contains(err.Error(), "lost the plugin process") {
		t.Fatalf("got %v, want a lost-plugin error", err)
	}
	if d.Status != "failed" {
		t.Fatalf("status %q, want failed", d.Status)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("crash took %v to notice, want it prompt", el)
	}
	// The next call waits for the restart and works.
	if _, err := f.n.Notify(context.Background(), codeNote("after", "222222")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	pids := f.pidList(t)
	if len(pids) != 2 || pids[0] == pids[1] {
		t.Fatalf("plugin started as %v, want two processes", pids)
	}
	recs := f.records(t)
	if len(recs) != 1 || recs[0]["user"] != "after" || int(recs[0]["pid"].(float64)) != pids[1] {
		t.Fatalf("records %v, want one from the restarted plugin", recs)
	}
	if got := strings.Count(f.log.String(), "testplugin configured"); got != 2 {
		t.Fatalf("configured %d times, want 2 (start and restart)", got)
	}
	if testing.Verbose() {
		t.Logf("log:\n%s", f.log)
	}
}

func TestRestartAfterExit(t *testing.T) {
	// The plugin answers, then exits by itself: the supervisor notices
	// without a failed call and restarts it.
	f := startTestPlugin(t, 5*time.Second)
	if _, err := f.n.Notify(context.Background(), codeNote("exit-after", "333333")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.pidList(t)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no restart; pids %v", f.pidList(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := f.n.Notify(context.Background(), codeNote("fine", "444444")); err != nil {
		t.Fatal(err)
	}
}

func TestHangingNotifier(t *testing.T) {
	tests := []struct {
		name        string
		timeout     time.Duration // the notifier's
		callerLimit time.Duration // the caller's ctx; 0 none
		want        time.Duration
	}{
		{"notifier timeout", 300 * time.Millisecond, 0, 300 * time.Millisecond},
		{"caller deadline first", 10 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startTestPlugin(t, tt.timeout)
			ctx := context.Background()
			if tt.callerLimit > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.callerLimit)
				defer cancel()
			}
			start := time.Now()
			d, err := f.n.Notify(ctx, codeNote("hang", "555555"))
			el := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want a deadline error", err)
			}
			if el < tt.want || el > tt.want+time.Second {
				t.Fatalf("returned after %v, want about %v", el, tt.want)
			}
			if d.Status != "failed" {
				t.Fatalf("status %q, want failed", d.Status)
			}
			// The plugin still serves other calls.
			if _, err := f.n.Notify(context.Background(), codeNote("next", "666666")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPluginLogsWithoutSecrets(t *testing.T) {
	f := startTestPlugin(t, 5*time.Second)
	d, err := f.n.Notify(context.Background(), codeNote("leak", "987123"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "failed" || d.Detail != "could not send [redacted]" {
		t.Fatalf("delivery %+v, want failed with the code redacted", d)
	}
	// Logs arrive asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for !(strings.Contains(f.log.String(), "careless plugin") && strings.Contains(f.log.String(), "raw stderr line")) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin logs missing:\n%s", f.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var sawWarn bool
	for _, line := range strings.Split(strings.TrimSpace(f.log.String()), "\n") {
		if strings.Contains(line, "987123") {
			t.Errorf("secret in log line: %s", line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["plugin"] != "test" || rec["component"] != "plugin" {
			t.Errorf("log line without component=plugin, plugin=test: %s", line)
		}
		if rec["message"] == "careless plugin" {
			sawWarn = true
			if rec["level"] != "warn" || rec["code"] != "[redacted]" || rec["secret"] != "[redacted]" {
				t.Errorf("careless plugin record %v, want level warn and both codes redacted", rec)
			}
		}
	}
	if !sawWarn {
		t.Error("no careless plugin record")
	}
}

func TestStartRefused(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	sum := sha256File(t, testPlugin)
	wrong := strings.Repeat("0", 64)
	tests := []struct {
		name    string
		cfg     Config
		want    string
		started bool // the process ran (it is refused after starting)
	}{
		{"wrong checksum", Config{Path: testPlugin, SHA256: wrong},
			"has SHA-256 " + sum + ", but the config says sha256 = " + wrong + ": refusing to start it", false},
		{"missing program", Config{Path: filepath.Join(dir, "nope"), SHA256: sum}, "no such file", false},
		{"settings refused", Config{Path: testPlugin, SHA256: sum, Settings: map[string]any{"fail_configure": "no gateway"}},
			"plugin t: configure testplugin: no gateway", true},
		{"unknown setting", Config{Path: testPlugin, SHA256: sum, Settings: map[string]any{"nope": 1}},
			`unknown field "nope"`, true},
		{"not a plugin", Config{Path: "/bin/true", SHA256: sha256File(t, "/bin/true")}, "start true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(pids)
			tt.cfg.Env = []string{"TESTPLUGIN_PIDS=" + pids}
			tt.cfg.StartTimeout = mfa.Duration(5 * time.Second)
			n, err := New("t", tt.cfg, Options{Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			err = n.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v, want an error containing %q", err, tt.want)
			}
			_, statErr := os.Stat(pids)
			if started := statErr == nil; started != tt.started {
				t.Fatalf("plugin process started: %v, want %v", started, tt.started)
			}
			if _, err := n.Notify(context.Background(), codeNote("x", "123456")); err == nil {
				t.Fatal("Notify worked after a failed Start")
			}
		})
	}
}

func TestBinaryReplacedBeforeRestart(t *testing.T) {
	// A plugin binary that changes on disk is refused at the next restart.
	dir := t.TempDir()
	bin := filepath.Join(dir, "plugin")
	data, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	n, err := New("swap", Config{Path: bin, SHA256: sha256File(t, bin)}, Options{Logger: zerolog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	n.pollInterval = 20 * time.Millisecond
	defer n.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin+".new", append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), codeNote("crash", "123456")); err == nil {
		t.Fatal("crash not reported")
	}
	// Once the restart has failed, calls fail fast with the reason
	// instead of waiting out their deadline.
	start := time.Now()
	_, err = n.Notify(context.Background(), codeNote("x", "123456"))
	if err == nil || !strings.Contains(err.Error(), "restart failed (retrying)") || !strings.Contains(err.Error(), "refusing to start it") {
		t.Fatalf("got %v, want the refused restart", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v, want a prompt answer", el)
	}
	if !strings.Contains(log.String(), "refusing to start it") {
		t.Fatalf("log does not explain the refused restart:\n%s", log)
	}
	// Putting the right binary back heals it at the next retry.
	if err := os.WriteFile(bin+".new", data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err = n.Notify(context.Background(), codeNote("x", "123456")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLifecycle(t *testing.T) {
	base := runtime.NumGoroutine()
	f := startTestPlugin(t, 5*time.Second)
	if err := f.n.Start(context.Background()); err == nil {
		t.Fatal("second Start worked")
	}
	if _, err := f.n.Notify(context.Background(), codeNote("a", "123456")); err != nil {
		t.Fatal(err)
	}
	pid := f.pidList(t)[0]
	if err := f.n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.n.Notify(context.Background(), codeNote("a", "123456")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Notify after Close: %v, want ErrClosed", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("plugin process %d still running after Close", pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before Start:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNotStarted(t *testing.T) {
	n, err := New("idle", Config{Path: testPlugin, SHA256: strings.Repeat("ab", 32)}, Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), codeNote("a", "123456")); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("got %v, want not started", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExamplePlugin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "messages")
	n, err := New("example", Config{Path: examplePlugin, SHA256: sha256File(t, examplePlugin),
		Settings: map[string]any{"path": out}}, Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), codeNote("alice", "246810")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "Your code: 246810\n"; got != want {
		t.Fatalf("example plugin wrote %q, want %q", got, want)
	}
}

func TestGroup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	sum := sha256File(t, testPlugin)
	ok := Config{Path: testPlugin, SHA256: sum, Env: []string{"TESTPLUGIN_PIDS=" + pids}}
	bad := Config{Path: testPlugin, SHA256: sum, Settings: map[string]any{"fail_configure": "no gateway"}}

	t.Run("invalid sections are all reported", func(t *testing.T) {
		_, err := NewGroup(map[string]Config{"a": {}, "b": {Builtin: "pager"}, "c": ok}, Options{Logger: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), "plugin a:") || !strings.Contains(err.Error(), "plugin b:") {
			t.Fatalf("got %v, want errors for a and b", err)
		}
	})
	t.Run("all or none", func(t *testing.T) {
		g, err := NewGroup(map[string]Config{"a-ok": ok, "b-bad": bad}, Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		err = g.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "plugin b-bad: configure testplugin: no gateway") {
			t.Fatalf("got %v", err)
		}
		a, _ := g.Get("a-ok")
		if _, err := a.Notify(context.Background(), codeNote("x", "123456")); !errors.Is(err, ErrClosed) {
			t.Fatalf("a-ok after the group failed to start: %v, want closed", err)
		}
		b, _ := os.ReadFile(pids)
		for _, p := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(p)
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("plugin %d still runs", pid)
			}
		}
		g.Close()
	})
	t.Run("start, use, close", func(t *testing.T) {
		g, err := NewGroup(map[string]Config{"push": ok, "sms": ok}, Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(g.Names(), ","); got != "push,sms" {
			t.Fatalf("names %s", got)
		}
		for _, name := range g.Names() {
			n, _ := g.Get(name)
			if _, err := n.Notify(context.Background(), codeNote("x", "123456")); err != nil {
				t.Fatal(err)
			}
		}
		if _, found := g.Get("email"); found {
			t.Fatal("found a notifier that is not configured")
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
