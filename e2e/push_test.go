package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/approve"
)

// Push approvals end to end: radclient is the NAS, real FreeRADIUS asks a
// real "radmfa serve" through the shipped rlm_rest snippets, serve sends
// each notification through its built-in "command" notifier plugin (a
// shell script that keeps the notification's JSON in an outbox), and the
// test answers as the phone would: through the approval page, as a browser
// posts it, or through the signed JSON API.

// pushRig is FreeRADIUS and radmfa serve with push approvals on.
type pushRig struct {
	e      *env
	fr     *freeRADIUS
	serve  *serveProc
	url    string // the RADIUS-side API
	socket string
	page   string // the approval page: http://127.0.0.1:PORT
	outbox string // where the notifier script writes notifications
	apiKey []byte
}

// notifyScript is the command notifier's program: it writes the
// notification it gets on stdin to $OUTBOX/<nanoseconds>-<pid>.json. When
// $OUTBOX/crash-next exists it removes it and kills its parent (the
// notifier plugin process) instead, as a crashing plugin would.
const notifyScript = `#!/bin/sh
set -e
if [ -e "$OUTBOX/crash-next" ]; then
	rm -f "$OUTBOX/crash-next"
	kill -KILL "$PPID"
	exit 1
fi
f="$OUTBOX/$(date +%s%N)-$$"
cat > "$f.tmp"
mv "$f.tmp" "$f.json"
`

// testAPIKey is the JSON approval API's shared key in the rigs.
const testAPIKey = "e2e-approval-api-key-0123456789abcdef"

// freeTCP returns a loopback TCP address that was free a moment ago.
func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newPushRig starts radmfa serve with the approval page, the command
// notifier and the given [push] settings (and anything else in extra),
// and FreeRADIUS wired to it through rlm_rest. Users are added with
// addPushUser.
func newPushRig(t *testing.T, push, extra string) *pushRig {
	t.Helper()
	need(t, "freeradius", "radclient")
	needRLMREST(t)
	dir := t.TempDir()
	serveCfg, url, sock := serveConfig(t, dir)
	r := &pushRig{url: url, socket: sock, outbox: filepath.Join(dir, "outbox"), apiKey: []byte(testAPIKey)}
	if err := os.Mkdir(r.outbox, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte(notifyScript), 0o700); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "api.key")
	if err := os.WriteFile(keyFile, []byte(testAPIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pageAddr := freeTCP(t)
	r.page = "http://" + pageAddr
	cfg := serveCfg + fmt.Sprintf(`decision_timeout = "3s"

[push]
approval_url = %q
organisation = "Example Corp"
operator_alert = "secops"
%s

[approval]
listen = %q
api_key_file = %q

[notifiers.default]
builtin = "command"
[notifiers.default.settings]
path = %q
env = [%q]
`, r.page, push, pageAddr, keyFile, script, "OUTBOX="+r.outbox) + extra
	r.e = newEnv(t, cfg)
	r.serve = startServe(t, r.e, url, sock)
	r.fr = startFreeRADIUS(t, r.e, viaREST, url)
	return r
}

// needRLMREST fails under CI, or skips, when rlm_rest is missing.
func needRLMREST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/freeradius/rlm_rest.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rlm_rest is not installed: CI never skips, run scripts/deps.sh (freeradius-rest)")
		}
		t.Skip("rlm_rest is not installed (freeradius-rest)")
	}
}

// addPushUser enrols a user with a TOTP device (secretAlice) and a push
// device whose address is "<name>-phone".
func (r *pushRig) addPushUser(t *testing.T, name string) {
	t.Helper()
	r.e.radmfa(t, secretAlice+"\n", "user", "add", name, "--secret", "-", "--json")
	r.e.radmfa(t, "", "device", "add", name, "--push", "--to", name+"-phone", "--device", "phone")
}

// notice is a notification as the command notifier hands it over.
type notice struct {
	Kind    string `json:"kind"`
	User    string `json:"user"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Message string `json:"message"`
	Push    *struct {
		ApprovalURL  string    `json:"approval_url"`
		Resource     string    `json:"resource"`
		Organisation string    `json:"organisation"`
		ClientIP     string    `json:"client_ip"`
		RequestTime  time.Time `json:"request_time"`
		Expires      time.Time `json:"expires"`
		Variant      string    `json:"variant"`
		RequestCode  string    `json:"request_code"`
	} `json:"push"`
}

// notices returns the notifications about user delivered so far, oldest
// first; kind "" means all kinds.
func (r *pushRig) notices(t *testing.T, user, kind string) []notice {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(r.outbox, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names) // nanosecond time first
	var out []notice
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var n notice
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		if n.User == user && (kind == "" || n.Kind == kind) {
			out = append(out, n)
		}
	}
	return out
}

// waitNotices waits until user has at least n notifications of the kind.
func (r *pushRig) waitNotices(t *testing.T, user, kind string, n int) []notice {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := r.notices(t, user, kind)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s notification(s) for %s after 15 s, want %d: %+v", len(got), kind, user, n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// token is the approval URL's last element.
func token(n notice) string {
	u := n.Push.ApprovalURL
	return u[strings.LastIndex(u, "/")+1:]
}

// api calls the signed JSON approval API; body nil is a GET.
func (r *pushRig) api(t *testing.T, n notice, body any) (int, map[string]any) {
	t.Helper()
	method, raw := http.MethodGet, []byte(nil)
	if body != nil {
		method = http.MethodPost
		raw, _ = json.Marshal(body)
	}
	path := "/api/v1/push/" + token(n)
	req, err := http.NewRequest(method, r.page+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(approve.HeaderTimestamp, ts)
	req.Header.Set(approve.HeaderSignature, approve.Sign(r.apiKey, ts, method, path, raw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// decide answers a push through the JSON API and checks the outcome.
func (r *pushRig) decide(t *testing.T, n notice, decision, number string, wantOutcome mfa.PushOutcome) {
	t.Helper()
	status, m := r.api(t, n, map[string]string{"decision": decision, "number": number})
	if status != http.StatusOK || m["outcome"] != string(wantOutcome) {
		t.Fatalf("API %s: %d %v, want 200 and outcome %s", decision, status, m, wantOutcome)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// pageAnswer answers a push on the approval page the way a browser posts
// it: it opens the link (getting the CSRF cookie), for a denial opens
// the "why" step, and posts the form. It returns the final status and page.
func (r *pushRig) pageAnswer(t *testing.T, n notice, action, number string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	u := n.Push.ApprovalURL
	if !strings.HasPrefix(u, r.page+"/approve/") {
		t.Fatalf("approval URL %q is not on the page %s", u, r.page)
	}
	open := u
	if strings.HasPrefix(action, "deny_") {
		open += "?deny=1"
	}
	resp, err := c.Get(open)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d without a form:\n%s", open, resp.StatusCode, page)
	}
	form := url.Values{"csrf": {string(m[1])}, "action": {action}}
	if number != "" {
		form.Set("number", number)
	}
	resp, err = c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// radResult is what one radclient run printed.
type radResult struct {
	r   reply
	out string
	ok  bool // a reply arrived
}

// sendAsync runs radclient in the background with the given retry
// options ("-r", "1", "-t", "30") and returns its result when it exits.
func (fr *freeRADIUS) sendAsync(opts []string, attrs ...string) <-chan radResult {
	ch := make(chan radResult, 1)
	args := append([]string{"-x"}, opts...)
	args = append(args, fmt.Sprintf("127.0.0.1:%d", fr.port), "auth", fr.secret)
	cmd := exec.Command("radclient", args...)
	cmd.Stdin = strings.NewReader(strings.Join(attrs, ",\n") + "\n")
	go func() {
		out, _ := cmd.CombinedOutput() // exits 1 for anything but Access-Accept
		r, ok := parseRadclient(out)
		ch <- radResult{r: r, out: string(out), ok: ok}
	}()
	return ch
}

// parseRadclient reads the first reply radclient -x printed.
func parseRadclient(out []byte) (reply, bool) {
	m := receivedRE.FindSubmatchIndex(out)
	if m == nil {
		return reply{}, false
	}
	r := reply{Code: string(out[m[2]:m[3]]), Attrs: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out[m[1]:]))
	sc.Scan() // the rest of the "Received" line
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "\t") {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(value); err == nil {
			value = uq
		}
		r.Attrs[name] = append(r.Attrs[name], value)
	}
	return r, true
}

// await waits for a background radclient and checks that it got an answer
// of the code.
func await(t *testing.T, ch <-chan radResult, within time.Duration, code string) radResult {
	t.Helper()
	select {
	case res := <-ch:
		if !res.ok {
			t.Fatalf("radclient got no reply, want %s:\n%s", code, res.out)
		}
		if res.r.Code != code {
			t.Fatalf("got %s %v, want %s", res.r.Code, res.r.Attrs, code)
		}
		return res
	case <-time.After(within):
		t.Fatalf("no answer within %s, want %s", within, code)
	}
	return radResult{}
}

// pending reports whether the background radclient is still waiting.
func pending(ch <-chan radResult) (radResult, bool) {
	select {
	case res := <-ch:
		return res, false
	default:
		return radResult{}, true
	}
}

// attrs are the radclient lines of a login from a Calling-Station-Id.
func attrs(user, password, station string, extra ...string) []string {
	a := []string{"User-Name = " + str(user), "User-Password = " + str(password), "NAS-Identifier = " + str("vpn-gw-1")}
	if station != "" {
		a = append(a, "Calling-Station-Id = "+str(station))
	}
	return append(a, extra...)
}

// once sends one packet and waits up to 30 s for the answer.
var once = []string{"-r", "1", "-t", "30"}

// pushEvent is a row of "radmfa report activity --json".
type pushEvent struct {
	User, Result, Method, Message string
	TxID                          string `json:"tx_id"`
	CallingStationID              string `json:"calling_station_id"`
}

// events returns user's events, oldest first.
func (r *pushRig) events(t *testing.T, user string) []pushEvent {
	t.Helper()
	var evs []pushEvent
	out := r.e.radmfa(t, "", "report", "activity", "--json", "--user", user, "--limit", "100")
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	slices.Reverse(evs)
	return evs
}

// summary is "Result: message" per event, for comparing.
func summary(evs []pushEvent) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Result+": "+e.Message)
	}
	return s
}

// pushRow is a row of "radmfa report push --json".
type pushRow struct {
	User     string   `json:"user"`
	Outcome  string   `json:"outcome"`
	ClientIP string   `json:"client_ip"`
	Variant  string   `json:"variant"`
	Flow     string   `json:"flow"`
	Number   string   `json:"number_shown"`
	Latency  *float64 `json:"latency_s"`
	TxID     string   `json:"tx_id"`
}

// pushRows returns user's pushes, oldest first.
func (r *pushRig) pushRows(t *testing.T, user string) []pushRow {
	t.Helper()
	var rows []pushRow
	out := r.e.radmfa(t, "", "report", "push", "--json", "--user", user, "--limit", "100")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	slices.Reverse(rows)
	return rows
}

func outcomes(rows []pushRow) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Outcome)
	}
	return s
}

// matchAll checks got against regular expressions, one each, in order.
func matchAll(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = regexp.MustCompile(want[i]).MatchString(got[i])
	}
	if !ok {
		t.Fatalf("%s:\n  got  %q\n  want %q", what, got, want)
	}
}

// TestPushInline runs the inline flow (the Access-Request waits for the
// approval) through FreeRADIUS: approve, deny, timeout with the fallback,
// "I made a mistake", retransmits, joins, an attacker's concurrent login
// and the rate limit. Each subtest has its own user; they run in parallel
// against one FreeRADIUS and one radmfa serve.
func TestPushInline(t *testing.T) {
	const timeout = 8 * time.Second
	r := newPushRig(t, "timeout = \"8s\"\njoin_by_calling_station = true", "")
	for _, u := range []string{"alice", "bob", "carol", "grace", "dave", "erin", "frank"} {
		r.addPushUser(t, u)
	}

	t.Run("approved through the API while radclient waits", func(t *testing.T) {
		t.Parallel()
		ch := r.fr.sendAsync(once, attrs("alice", "", "203.0.113.5")...)
		n := r.waitNotices(t, "alice", "push", 1)[0]
		p := n.Push
		if p.Resource != "vpn-gw-1" || p.Organisation != "Example Corp" || p.ClientIP != "203.0.113.5" || p.Variant != "plain" || n.To != "alice-phone" {
			t.Fatalf("notification %+v %+v: want resource vpn-gw-1, Example Corp, 203.0.113.5, plain, to alice-phone", n, *p)
		}
		if left := time.Until(p.Expires); left < timeout-3*time.Second || left > timeout {
			t.Fatalf("expires in %s, want about %s", left, timeout)
		}
		if _, waiting := pending(ch); !waiting {
			t.Fatal("radclient was answered before the approval")
		}
		status, view := r.api(t, n, nil)
		if status != 200 || view["user"] != "alice" || view["client_ip"] != "203.0.113.5" || view["outcome"] != "pending" {
			t.Fatalf("API view: %d %v", status, view)
		}
		approved := time.Now()
		r.decide(t, n, "approve", "", mfa.PushApproved)
		res := await(t, ch, 5*time.Second, "Access-Accept")
		if took := time.Since(approved); took > 2*time.Second {
			t.Fatalf("Access-Accept %s after the approval: the wait did not wake at once", took)
		}
		if len(res.r.Attrs) != 0 {
			t.Fatalf("Access-Accept carries %v", res.r.Attrs)
		}
		if status, m := r.api(t, n, map[string]string{"decision": "approve"}); status != http.StatusGone {
			t.Fatalf("second approval of the same token: %d %v, want 410", status, m)
		}
		evs := r.events(t, "alice")
		matchAll(t, "events", summary(evs), `^Challenge: push sent \(inline flow\)$`, `^Success: push approved \(\d+\.\d s\)$`)
		if evs[0].TxID != evs[1].TxID || evs[0].CallingStationID != "203.0.113.5" {
			t.Fatalf("events %+v: want one transaction from 203.0.113.5", evs)
		}
		rows := r.pushRows(t, "alice")
		if len(rows) != 1 || rows[0].Outcome != "approved" || rows[0].Latency == nil || rows[0].TxID != evs[0].TxID {
			t.Fatalf("push report %+v", rows)
		}
	})

	t.Run("it wasn't me: reject, failure event, alerts", func(t *testing.T) {
		t.Parallel()
		ch := r.fr.sendAsync(once, attrs("bob", "p", "198.51.100.23")...)
		n := r.waitNotices(t, "bob", "push", 1)[0]
		status, body := r.pageAnswer(t, n, "deny_fraud", "")
		if status != 200 || !strings.Contains(body, "help desk has been told") {
			t.Fatalf("page answered %d:\n%s", status, body)
		}
		res := await(t, ch, 5*time.Second, "Access-Reject")
		if got := res.r.get("Reply-Message"); got != mfa.MsgPushDenied {
			t.Fatalf("Reply-Message %q, want %q", got, mfa.MsgPushDenied)
		}
		matchAll(t, "events", summary(r.events(t, "bob")), `^Challenge: push sent`, `^Failure: push rejected by user: it wasn't me$`)
		alerts := r.waitNotices(t, "bob", "alert", 2)
		var to []string
		for _, a := range alerts {
			to = append(to, a.To)
			if !strings.Contains(a.Message, "198.51.100.23") || !strings.Contains(a.Message, "reported as not theirs") || a.Push != nil {
				t.Fatalf("alert %+v", a)
			}
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"bob-phone", "secops"}) {
			t.Fatalf("alerts went to %q, want bob's phone and the operator", to)
		}
		matchAll(t, "push outcomes", outcomes(r.pushRows(t, "bob")), "^denied_fraud$")
	})

	t.Run("timeout: fallback challenge, then the app's code", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		ch := r.fr.sendAsync(once, attrs("carol", "", "203.0.113.6")...)
		r.waitNotices(t, "carol", "push", 1)
		res := await(t, ch, timeout+10*time.Second, "Access-Challenge")
		if took := time.Since(start); took < timeout-time.Second {
			t.Fatalf("fallback after %s, want it at the push timeout (%s)", took, timeout)
		}
		state := res.r.get("State")
		if res.r.get("Reply-Message") != mfa.MsgFallback || !strings.HasPrefix(state, "0x") {
			t.Fatalf("got %v, want the fallback challenge", res.r.Attrs)
		}
		ok := await(t, r.fr.sendAsync(once, attrs("carol", totpNow(t, secretAlice, 6, "SHA1"), "203.0.113.6", "State = "+state)...), 10*time.Second, "Access-Accept")
		_ = ok
		evs := r.events(t, "carol")
		matchAll(t, "events", summary(evs), `^Challenge: push sent`, `^Success: OTP accepted`)
		if evs[0].TxID != evs[1].TxID {
			t.Fatalf("the fallback answer is not in the push's transaction: %+v", evs)
		}
		matchAll(t, "push outcomes", outcomes(r.pushRows(t, "carol")), "^expired$")
		if n := len(r.notices(t, "carol", "")); n != 1 {
			t.Fatalf("%d notifications, want the one push", n)
		}
	})

	t.Run("I made a mistake: fallback at once, Enter sends another push", func(t *testing.T) {
		t.Parallel()
		ch := r.fr.sendAsync(once, attrs("grace", "", "203.0.113.8")...)
		n := r.waitNotices(t, "grace", "push", 1)[0]
		if status, body := r.pageAnswer(t, n, "deny_mistake", ""); status != 200 || !strings.Contains(body, "cancelled") {
			t.Fatalf("page answered %d:\n%s", status, body)
		}
		res := await(t, ch, 5*time.Second, "Access-Challenge")
		if res.r.get("Reply-Message") != mfa.MsgFallback {
			t.Fatalf("got %v, want the fallback challenge", res.r.Attrs)
		}
		// Enter (an empty answer) sends another push.
		ch = r.fr.sendAsync(once, attrs("grace", "", "203.0.113.8", "State = "+res.r.get("State"))...)
		n2 := r.waitNotices(t, "grace", "push", 2)[1]
		if n2.Push.ApprovalURL == n.Push.ApprovalURL {
			t.Fatal("the second push has the first one's URL")
		}
		r.decide(t, n2, "approve", "", mfa.PushApproved)
		await(t, ch, 5*time.Second, "Access-Accept")
		matchAll(t, "events", summary(r.events(t, "grace")), `^Challenge: push sent`, `^Challenge: push sent`, `^Success: push approved`)
		matchAll(t, "push outcomes", outcomes(r.pushRows(t, "grace")), "^denied_mistake$", "^approved$")
	})

	t.Run("retransmissions during the wait: one notification", func(t *testing.T) {
		t.Parallel()
		// radclient retransmits the same packet (source port, Id,
		// authenticator) every 2 s; FreeRADIUS drops the copies while
		// the first one waits.
		ch := r.fr.sendAsync([]string{"-r", "5", "-t", "2"}, attrs("dave", "", "203.0.113.9")...)
		n := r.waitNotices(t, "dave", "push", 1)[0]
		time.Sleep(6 * time.Second)
		r.decide(t, n, "approve", "", mfa.PushApproved)
		res := await(t, ch, 10*time.Second, "Access-Accept")
		sent := sentRE.FindAllStringSubmatch(res.out, -1)
		if len(sent) < 3 {
			t.Fatalf("radclient sent %d packet(s), want the first and at least 2 retransmissions:\n%s", len(sent), res.out)
		}
		for _, s := range sent[1:] {
			if s[1] != sent[0][1] || s[2] != sent[0][2] {
				t.Fatalf("retransmission %q differs from the first %q (Id or source port)", s[0], sent[0][0])
			}
		}
		dups := regexp.MustCompile(`Ignoring duplicate packet from client localhost port ` + sent[0][2] + ` - ID: ` + sent[0][1] + ` due to unfinished request`)
		if got := len(dups.FindAllString(r.fr.out.String(), -1)); got != len(sent)-1 {
			t.Fatalf("FreeRADIUS dropped %d duplicate(s), want %d (every retransmission)", got, len(sent)-1)
		}
		if got := len(r.notices(t, "dave", "")); got != 1 {
			t.Fatalf("%d notifications for %d copies of the packet, want 1", got, len(sent))
		}
		matchAll(t, "events", summary(r.events(t, "dave")), `^Challenge: push sent`, `^Success: push approved`)
	})

	t.Run("an attacker's concurrent login rides no approval", func(t *testing.T) {
		t.Parallel()
		victim := r.fr.sendAsync(once, attrs("erin", "", "203.0.113.10")...)
		first := r.waitNotices(t, "erin", "push", 1)[0]
		// The attacker logs in as erin at the same moment through the
		// same NAS: from another station, then with none.
		other := r.fr.sendAsync(once, attrs("erin", "", "198.51.100.66")...)
		second := r.waitNotices(t, "erin", "push", 2)[1]
		blank := r.fr.sendAsync(once, attrs("erin", "", "")...)
		third := r.waitNotices(t, "erin", "push", 3)[2]
		if first.Push.ClientIP != "203.0.113.10" || second.Push.ClientIP != "198.51.100.66" || third.Push.ClientIP != "" {
			t.Fatalf("client IPs shown %q %q %q: each login must get its own push", first.Push.ClientIP, second.Push.ClientIP, third.Push.ClientIP)
		}
		// A newer push supersedes the older ones: approving the victim's
		// link now approves nothing.
		if status, m := r.api(t, first, map[string]string{"decision": "approve"}); status != http.StatusGone {
			t.Fatalf("approving the superseded push: %d %v, want 410", status, m)
		}
		r.decide(t, third, "deny_fraud", "", mfa.PushDeniedFraud)
		await(t, blank, 5*time.Second, "Access-Reject")
		await(t, victim, timeout+10*time.Second, "Access-Reject")
		await(t, other, timeout+10*time.Second, "Access-Reject")
		matchAll(t, "push outcomes", outcomes(r.pushRows(t, "erin")), "^superseded$", "^superseded$", "^denied_fraud$")
		// The rate limit (3 per 5 minutes) refuses a fourth push at once.
		res := await(t, r.fr.sendAsync(once, attrs("erin", "", "203.0.113.10")...), 5*time.Second, "Access-Reject")
		if got := res.r.get("Reply-Message"); got != mfa.MsgRateLimited {
			t.Fatalf("fourth push: Reply-Message %q, want %q", got, mfa.MsgRateLimited)
		}
		if n := len(r.notices(t, "erin", "push")); n != 3 {
			t.Fatalf("%d pushes sent, want 3", n)
		}
		evs := summary(r.events(t, "erin"))
		if last := evs[len(evs)-1]; !strings.HasPrefix(last, "Failure: push refused: more than 3 pushes") {
			t.Fatalf("last event %q, want the rate limit's Failure", last)
		}
	})

	t.Run("another packet from the same station joins", func(t *testing.T) {
		t.Parallel()
		// A NAS that sends a new packet (new Id and authenticator) for
		// the same login: same user, client and Calling-Station-Id.
		a := r.fr.sendAsync(once, attrs("frank", "", "203.0.113.11")...)
		n := r.waitNotices(t, "frank", "push", 1)[0]
		b := r.fr.sendAsync(once, attrs("frank", "", "203.0.113.11")...)
		time.Sleep(time.Second)
		r.decide(t, n, "approve", "", mfa.PushApproved)
		await(t, a, 5*time.Second, "Access-Accept")
		await(t, b, 5*time.Second, "Access-Accept")
		if got := len(r.notices(t, "frank", "")); got != 1 {
			t.Fatalf("%d notifications, want 1", got)
		}
	})
}

// sentRE matches radclient -x's line for each packet it sends: Id and
// source port.
var sentRE = regexp.MustCompile(`(?m)^Sent Access-Request Id (\d+) from [\d.]+:(\d+) to`)

// TestPushChallengeNumber runs the challenge flow with number matching
// (choose): the Access-Challenge shows the number, the phone picks one of
// three, and the answer to the challenge waits for it.
func TestPushChallengeNumber(t *testing.T) {
	r := newPushRig(t, "flow = \"challenge\"\nvariant = \"choose\"\ntimeout = \"20s\"", "")
	for _, u := range []string{"alice", "bob"} {
		r.addPushUser(t, u)
	}
	challenge := func(t *testing.T, user string) (number, state string, n notice) {
		t.Helper()
		res := await(t, r.fr.sendAsync(once, attrs(user, "p", "203.0.113.20")...), 10*time.Second, "Access-Challenge")
		msg := res.r.get("Reply-Message")
		m := regexp.MustCompile(`^Approve the sign-in request on your phone by choosing (\d\d), then press Enter$`).FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("Reply-Message %q: want the number to choose", msg)
		}
		n = r.waitNotices(t, user, "push", 1)[0]
		// The phone must not be told the number: the user matches it.
		// The time, the station and the approval URL (whose port or
		// token may contain any two digits) are not the number.
		rest := regexp.MustCompile(`\d\d:\d\d:\d\d|203\.0\.113\.20|https?://\S+`).ReplaceAllString(n.Message, "")
		if n.Push.Variant != "choose" || n.Push.RequestCode != "" || strings.Contains(rest, m[1]) {
			t.Fatalf("notification %+v: want variant choose, and not the number (%s) itself", n, m[1])
		}
		return m[1], res.r.get("State"), n
	}

	t.Run("the right number", func(t *testing.T) {
		t.Parallel()
		number, state, n := challenge(t, "alice")
		status, view := r.api(t, n, nil)
		choices, _ := view["choices"].([]any)
		if status != 200 || len(choices) != 3 || !slices.Contains(choices, any(number)) {
			t.Fatalf("API view %d %v: want 3 choices with %s", status, view, number)
		}
		// The answer to the challenge ("press Enter") waits for the phone.
		ch := r.fr.sendAsync(once, attrs("alice", "", "203.0.113.20", "State = "+state)...)
		time.Sleep(time.Second)
		if _, waiting := pending(ch); !waiting {
			t.Fatal("the answer was not kept waiting for the approval")
		}
		if status, body := r.pageAnswer(t, n, "approve", number); status != 200 || !strings.Contains(body, "Approved") {
			t.Fatalf("page answered %d:\n%s", status, body)
		}
		await(t, ch, 5*time.Second, "Access-Accept")
		matchAll(t, "events", summary(r.events(t, "alice")), `^Challenge: push sent \(challenge flow, choose, number \d\d\)$`, `^Success: push approved`)
		if rows := r.pushRows(t, "alice"); len(rows) != 1 || rows[0].Number != number || rows[0].Flow != "challenge" || rows[0].Outcome != "approved" {
			t.Fatalf("push report %+v", rows)
		}
	})

	t.Run("a wrong number", func(t *testing.T) {
		t.Parallel()
		number, state, n := challenge(t, "bob")
		_, view := r.api(t, n, nil)
		wrong := ""
		for _, c := range view["choices"].([]any) {
			if c != number {
				wrong = c.(string)
			}
		}
		if status, body := r.pageAnswer(t, n, "approve", wrong); status != 200 || !strings.Contains(body, "not the number") {
			t.Fatalf("page answered %d:\n%s", status, body)
		}
		res := await(t, r.fr.sendAsync(once, attrs("bob", "", "203.0.113.20", "State = "+state)...), 5*time.Second, "Access-Reject")
		if got := res.r.get("Reply-Message"); got != mfa.MsgPushDenied {
			t.Fatalf("Reply-Message %q", got)
		}
		matchAll(t, "events", summary(r.events(t, "bob")), `^Challenge: push sent`, `^Failure: push rejected: wrong number chosen$`)
		matchAll(t, "push outcomes", outcomes(r.pushRows(t, "bob")), "^denied_wrong_number$")
	})
}

// TestPushPluginCrash kills the notifier plugin process in the middle of a
// push: the login follows the profile's fail mode, and the plugin host
// restarts the plugin for the next push.
func TestPushPluginCrash(t *testing.T) {
	for _, tt := range []struct {
		mode, code, message string
	}{
		{"secure", "Access-Reject", mfa.MsgPushFailed},
		{"open", "Access-Accept", ""},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			r := newPushRig(t, `timeout = "15s"`, fmt.Sprintf("\n[[profile]]\nname = \"nas\"\nclients = [\"localhost\"]\nfail_mode = %q\n", tt.mode))
			r.addPushUser(t, "alice")
			if err := os.WriteFile(filepath.Join(r.outbox, "crash-next"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			res := await(t, r.fr.sendAsync(once, attrs("alice", "", "203.0.113.30")...), 15*time.Second, tt.code)
			if got := res.r.get("Reply-Message"); got != tt.message {
				t.Fatalf("Reply-Message %q, want %q", got, tt.message)
			}
			if _, err := os.Stat(filepath.Join(r.outbox, "crash-next")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the notifier never ran")
			}
			evs := summary(r.events(t, "alice"))
			matchAll(t, "events", evs, `^Challenge: push sent`,
				`^(Failure|Success): push could not be delivered: plugin default: notify: lost the plugin process.*; fail mode `+tt.mode)
			// The next push goes through the restarted plugin.
			ch := r.fr.sendAsync(once, attrs("alice", "", "203.0.113.30")...)
			n := r.waitNotices(t, "alice", "push", 1)[0]
			r.decide(t, n, "approve", "", mfa.PushApproved)
			await(t, ch, 5*time.Second, "Access-Accept")
			for _, want := range []string{"plugin process exited; restarting it", "plugin restarted"} {
				if !strings.Contains(r.log(t), want) {
					t.Errorf("radmfa's log lacks %q", want)
				}
			}
		})
	}
}

// log returns radmfa's log file.
func (r *pushRig) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.e.dir, "radmfa.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPushSurvivesRestart stops radmfa serve (SIGTERM) while a login waits
// for a push: FreeRADIUS sends the NAS no reply, the push stays pending in
// the store, the NAS's retransmission reaches the restarted serve, joins
// the push (the same packet: source port, Id and authenticator), and the
// approval of the first notification answers it.
//
// FreeRADIUS drops retransmissions of a request it did not answer for
// cleanup_delay (5 s), and doubles that delay with each one it drops, so
// the NAS here retransmits every 7 s, as a NAS with a RADIUS timeout above
// cleanup_delay does.
func TestPushSurvivesRestart(t *testing.T) {
	r := newPushRig(t, `timeout = "40s"`, "")
	r.addPushUser(t, "alice")
	// No Calling-Station-Id: only the packet itself can join the push.
	ch := r.fr.sendAsync([]string{"-r", "5", "-t", "7"}, attrs("alice", "", "")...)
	n := r.waitNotices(t, "alice", "push", 1)[0]
	waitMetric(t, r.url, "radmfa_push_waiters 1")

	r.serve.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, r.serve.cmd.Process.Pid)
	if res, waiting := pending(ch); !waiting {
		t.Fatalf("the NAS was answered when radmfa stopped (want no reply):\n%s", res.out)
	}
	if !strings.Contains(r.log(t), "shutting down while waiting for a push: no reply") {
		t.Fatal("serve did not answer the waiting request with no reply")
	}

	r.serve = startServe(t, r.e, r.url, r.socket)
	waitMetric(t, r.url, "radmfa_push_waiters 1") // the retransmission joined the push
	if res, waiting := pending(ch); !waiting {
		t.Fatalf("answered before the approval:\n%s", res.out)
	}
	r.decide(t, n, "approve", "", mfa.PushApproved)
	res := await(t, ch, 5*time.Second, "Access-Accept")
	if sent := sentRE.FindAllString(res.out, -1); len(sent) < 2 {
		t.Fatalf("radclient sent %d packet(s), want a retransmission", len(sent))
	}
	if got := len(r.notices(t, "alice", "")); got != 1 {
		t.Fatalf("%d notifications, want the one from before the restart", got)
	}
	evs := r.events(t, "alice")
	matchAll(t, "events", summary(evs), `^Challenge: push sent`, `^Success: push approved`)
	if evs[0].TxID != evs[1].TxID {
		t.Fatalf("events %+v: want one transaction", evs)
	}
}

// TestPushChallengeAnswerSurvivesRestart is TestPushSurvivesRestart for
// the challenge flow: the answer to "approve, then press Enter" waits for
// the push when radmfa serve stops. The NAS's retransmission of that answer
// reaches the restarted serve, where its State has been used: being the
// same packet, it joins the push instead of meeting "unknown State".
func TestPushChallengeAnswerSurvivesRestart(t *testing.T) {
	r := newPushRig(t, "flow = \"challenge\"\ntimeout = \"40s\"", "")
	r.addPushUser(t, "alice")
	res := await(t, r.fr.sendAsync(once, attrs("alice", "p", "")...), 10*time.Second, "Access-Challenge")
	n := r.waitNotices(t, "alice", "push", 1)[0]
	state := res.r.get("State")
	ch := r.fr.sendAsync([]string{"-r", "5", "-t", "7"}, attrs("alice", "", "", "State = "+state)...)
	waitMetric(t, r.url, "radmfa_push_waiters 1")

	r.serve.cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, r.serve.cmd.Process.Pid)
	r.serve = startServe(t, r.e, r.url, r.socket)
	waitMetric(t, r.url, "radmfa_push_waiters 1") // the retransmitted answer joined
	if res, waiting := pending(ch); !waiting {
		t.Fatalf("answered before the approval:\n%s", res.out)
	}
	r.decide(t, n, "approve", "", mfa.PushApproved)
	res = await(t, ch, 5*time.Second, "Access-Accept")
	if sent := sentRE.FindAllString(res.out, -1); len(sent) < 2 {
		t.Fatalf("radclient sent %d packet(s), want a retransmission", len(sent))
	}
	// Another packet with the used State is still refused.
	await(t, r.fr.sendAsync(once, attrs("alice", "", "", "State = "+state)...), 10*time.Second, "Access-Reject")
	matchAll(t, "events", summary(r.events(t, "alice")), `^Challenge: push sent`, `^Success: push approved`, `^Failure: unknown State`)
}

// waitMetric waits until serve's /metrics has the line.
func waitMetric(t *testing.T, url, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "\n"+line+"\n") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no %q after 30 s", line)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits until the process is gone (startServe's goroutine reaps
// it; its cleanup checks the exit status).
func waitExit(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("radmfa serve still running 20 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
