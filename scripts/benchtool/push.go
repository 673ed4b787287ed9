package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/approve"
	"github.com/radmfa/radmfa/sqlite"
)

func init() { cases["push"] = push }

// Sizes of the push case (SPEC §10).
const (
	pendingPushes = 10000
	// pushRamp bounds the logins whose push is being created at once
	// (the rest wait in the queue, not in serve).
	pushRamp = 256
	// approvers answer the pushes concurrently, as phones would.
	approvers = 16
)

// push measures radmfa serve with 10,000 pushes pending at once, driven
// over its HTTP API directly (FreeRADIUS itself holds at most max_servers
// waits): 10,000 inline logins wait, each for its own push sent through the
// built-in webhook notifier to a receiver here; then serve's RSS, and the
// time from each approval (the signed JSON API) to the answer of the login
// that waited for it.
func push(o options) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "radmfa-bench-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}

	fmt.Printf("== push: %d users with a push device\n", pendingPushes)
	db := filepath.Join(dir, "radmfa.db")
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: db}, sqlite.Options{Create: true})
	if err != nil {
		return err
	}
	names := make([]string, pendingPushes)
	devs := make([]mfa.Device, pendingPushes)
	for i := range names {
		names[i] = fmt.Sprintf("p%d", i)
		devs[i] = mfa.Device{Name: "phone", Kind: mfa.DevicePush, Address: names[i] + "-phone"}
	}
	err = store.ImportUsers(context.Background(), "bench", names, devs)
	store.Close()
	if err != nil {
		return err
	}

	// The webhook receiver: it keeps each push's token for its user.
	hook := newHookReceiver()
	hookL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hookSrv := &http.Server{Handler: hook}
	go hookSrv.Serve(hookL)
	defer hookSrv.Close()

	secret := make([]byte, 32)
	rand.Read(secret)
	apiKey := []byte(base64.RawURLEncoding.EncodeToString(secret)) // 43 characters
	files := map[string]string{
		"webhook.secret": "whsec_" + base64.StdEncoding.EncodeToString(secret) + "\n",
		"api.key":        string(apiKey) + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pageAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`[store]
path = %q
[serve]
listen = [%q]
[log]
level = "warn"
[push]
approval_url = "http://%s"
timeout = "5m"
[approval]
listen = %q
api_key_file = %q
[notifiers.default]
builtin = "webhook"
timeout = "30s"
[notifiers.default.settings]
url = "http://%s/hook"
secret_file = %q
`, db, apiAddr, pageAddr, pageAddr, filepath.Join(dir, "api.key"), hookL.Addr(), filepath.Join(dir, "webhook.secret"))
	cfgPath := filepath.Join(dir, "radmfa.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	serve, err := startServe(bin, cfgPath, "http://"+apiAddr)
	if err != nil {
		return err
	}
	defer serve.stop()
	idle, _ := rssMB(serve.cmd.Process.Pid)

	// Phase 1: every login waits for its push.
	fmt.Printf("== push: %d inline logins waiting at once (at most %d being created at a time)\n", pendingPushes, pushRamp)
	tr := &http.Transport{MaxIdleConnsPerHost: pendingPushes, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Minute}
	answered := make([]time.Time, pendingPushes)
	done := make([]chan error, pendingPushes)
	ramp := make(chan struct{}, pushRamp)
	t0 := time.Now()
	for i := range pendingPushes {
		done[i] = make(chan error, 1)
		returned := make(chan struct{}) // the login was answered (too early)
		ramp <- struct{}{}
		go func() {
			defer close(returned)
			auth := make([]byte, 16)
			rand.Read(auth)
			body, q := rlmrest.EncodeRequest(mfa.Request{UserName: names[i],
				NAS: mfa.NAS{ClientName: "bench", ClientIP: "127.0.0.1", ClientPort: 1024 + i%60000,
					CallingStationID: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), Identifier: "bench-nas"}},
				rlmrest.Packet{Authenticator: auth})
			resp, err := client.Post("http://"+apiAddr+"/radius/authorize?"+q.Encode(), "application/json", bytes.NewReader(body))
			answered[i] = time.Now()
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(b), `"control:Auth-Type"`) {
					err = fmt.Errorf("login %s: %d %s, want an Accept", names[i], resp.StatusCode, b)
				}
			}
			done[i] <- err
		}()
		go func() {
			select {
			case <-hook.ch(names[i]):
			case <-returned:
			}
			<-ramp
		}()
	}
	deadline := time.After(2 * time.Minute)
	for i := range pendingPushes { // every notification delivered
		select {
		case <-hook.ch(names[i]):
		case err := <-done[i]:
			if err == nil {
				err = fmt.Errorf("login %s answered before its push was approved", names[i])
			}
			return err
		case <-deadline:
			return fmt.Errorf("only %d of %d pushes delivered after 2 minutes", i, pendingPushes)
		}
	}
	// A login starts waiting just after its notification is delivered.
	var waiters float64
	for wait := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if waiters, err = metric("http://"+apiAddr, "radmfa_push_waiters"); err != nil {
			return err
		}
		if int(waiters) == pendingPushes {
			break
		}
		if time.Since(wait) > 10*time.Second {
			return fmt.Errorf("serve has %v waiting logins, want %d", waiters, pendingPushes)
		}
	}
	created := time.Since(t0)
	goroutines, _ := metric("http://"+apiAddr, "go_goroutines")
	rss, err := rssMB(serve.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("%d pushes created and delivered in %.1f s (%.0f/s); serve: %.0f waiting logins, %.0f goroutines\n",
		pendingPushes, created.Seconds(), pendingPushes/created.Seconds(), waiters, goroutines)
	fmt.Printf("serve RSS: %.0f MB with %d pushes pending (%.0f MB idle)\n", rss, pendingPushes, idle)

	// Phase 2: approve them all; each approval's latency is from sending
	// it to the answer of the login that waited.
	fmt.Printf("== push: approving through the JSON API, %d approvers\n", approvers)
	lat := make([]time.Duration, pendingPushes)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	apiClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: approvers}, Timeout: 30 * time.Second}
	t1 := time.Now()
	for range approvers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= pendingPushes {
					return
				}
				sent := time.Now()
				if err := approveAPI(apiClient, "http://"+pageAddr, apiKey, hook.token(names[i])); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				select {
				case err := <-done[i]:
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				case <-time.After(30 * time.Second):
					firstErr.CompareAndSwap(nil, fmt.Errorf("login %s not answered 30 s after its approval", names[i]))
					return
				}
				lat[i] = answered[i].Sub(sent)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	took := time.Since(t1)
	p50, p99 := pct(lat, 50), pct(lat, 99)
	fmt.Printf("%d approvals in %.1f s (%.0f/s): approval -> answer p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		pendingPushes, took.Seconds(), pendingPushes/took.Seconds(), ms(p50), ms(p99), ms(pct(lat, 100)))

	fmt.Println("== push: targets (SPEC §10)")
	verdict := func(name string, v, target float64) {
		ok := "MET"
		if v >= target {
			ok = "NOT MET"
		}
		fmt.Printf("%-36s %8.2f   target < %.0f  %s\n", name, v, target, ok)
	}
	verdict("serve RSS, 10,000 pending (MB)", rss, 300)
	verdict("approval -> answer p99 (ms)", ms(p99), 50)
	fmt.Printf("== push: done in %.0f s\n", time.Since(start).Seconds())
	return nil
}

// hookReceiver is the webhook notifier's receiving end.
type hookReceiver struct {
	mu     sync.Mutex
	tokens map[string]string
	ready  map[string]chan struct{}
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{tokens: map[string]string{}, ready: map[string]chan struct{}{}}
}

// ch returns the channel closed when user's push has arrived.
func (h *hookReceiver) ch(user string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.ready[user]
	if !ok {
		c = make(chan struct{})
		h.ready[user] = c
	}
	return c
}

func (h *hookReceiver) token(user string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokens[user]
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var env struct {
		Data struct {
			Kind string `json:"kind"`
			User string `json:"user"`
			Push *struct {
				ApprovalURL string `json:"approval_url"`
			} `json:"push"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.Data.Push == nil {
		http.Error(w, "want a push", http.StatusBadRequest)
		return
	}
	u := env.Data.Push.ApprovalURL
	c := h.ch(env.Data.User)
	h.mu.Lock()
	_, seen := h.tokens[env.Data.User]
	h.tokens[env.Data.User] = u[strings.LastIndex(u, "/")+1:]
	h.mu.Unlock()
	if !seen {
		close(c)
	}
	w.WriteHeader(http.StatusNoContent)
}

// approveAPI approves a push through the signed JSON API.
func approveAPI(c *http.Client, base string, key []byte, token string) error {
	path := "/api/v1/push/" + token
	body := []byte(`{"decision":"approve"}`)
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(approve.HeaderTimestamp, ts)
	req.Header.Set(approve.HeaderSignature, approve.Sign(key, ts, http.MethodPost, path, body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("approval API: %d %s", resp.StatusCode, b)
	}
	return nil
}

// metric reads one unlabelled value from serve's /metrics.
func metric(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// rssMB is a process's resident memory in MB (VmRSS).
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
