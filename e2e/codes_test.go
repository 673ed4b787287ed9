package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// TestCodesThroughFreeRADIUS sends SMS and e-mail codes through the real
// notifier plugins (the command builtin running a script, the smtp builtin
// talking to an SMTP receiver in this test), with FreeRADIUS as the NAS,
// through each front door.
func TestCodesThroughFreeRADIUS(t *testing.T) {
	for _, door := range []string{viaExec, viaREST} {
		t.Run(door, func(t *testing.T) {
			if door == viaREST {
				needRLMRest(t)
			}
			lab := newCodeLab(t)
			var e *env
			var fr *freeRADIUS
			if door == viaExec {
				// exec gives up after 3 s: the stuck notifier must not
				// hold FreeRADIUS's request until rlm_exec kills radmfa.
				e = newEnv(t, lab.config+"\n[exec]\ntimeout = \"3s\"\n")
				lab.enrol(t, e)
				fr = startFreeRADIUS(t, e, viaExec, "")
			} else {
				dir := t.TempDir()
				serveCfg, url, sock := serveConfig(t, dir)
				e = newEnv(t, serveCfg+"decision_timeout = \"3s\"\n"+lab.config)
				lab.enrol(t, e)
				startServe(t, e, url, sock)
				fr = startFreeRADIUS(t, e, viaREST, url)
			}
			codeScenario(t, e, fr, lab, door)
		})
	}
}

// needRLMRest is need for FreeRADIUS's rest module.
func needRLMRest(t *testing.T) {
	t.Helper()
	need(t, "freeradius")
	if _, err := os.Stat("/usr/lib/freeradius/rlm_rest.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rlm_rest is not installed: CI never skips, run scripts/deps.sh (freeradius-rest)")
		}
		t.Skip("rlm_rest is not installed (freeradius-rest)")
	}
}

// codeLab is what the code tests deliver through: notifier scripts, the
// file the SMS script appends to, the SMTP receiver, and the [codes],
// [lockout] and [notifiers] config that uses them.
type codeLab struct {
	dir    string
	outbox string // the sms notifier's script appends each notification here (JSON lines)
	hang   string // the script that never ends
	smtp   *smtpSink
	config string
}

// Phone number and e-mail address of the users with code devices.
const (
	alicePhone = "+447700900123"
	erinMail   = "erin@example.com"
)

func newCodeLab(t *testing.T) *codeLab {
	t.Helper()
	dir := t.TempDir()
	lab := &codeLab{dir: dir, outbox: filepath.Join(dir, "outbox.jsonl"), hang: filepath.Join(dir, "hang.sh"), smtp: startSMTPSink(t)}
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An SMS gateway stand-in: keeps what radmfa sends, prints an id.
	sms := script("sms.sh", "cat >> \"$1\"\necho >> \"$1\"\necho \"sms-$$\"\n")
	// A gateway that refuses.
	broken := script("broken.sh", "cat > /dev/null\necho 'gateway: 403 account suspended' >&2\nexit 1\n")
	// A gateway that never answers.
	script("hang.sh", "while :; do sleep 0.1; done\n")
	lab.config = fmt.Sprintf(`
[codes]
rate_limit = 3

[lockout]
failures = 10

[notifiers.sms]
builtin = "command"
[notifiers.sms.settings]
path = %[1]q
args = [%[2]q]

[notifiers.mail]
builtin = "smtp"
[notifiers.mail.settings]
host = "127.0.0.1"
port = %[3]d
tls = "none"
from = "radmfa <mfa@example.com>"

[notifiers.broken]
builtin = "command"
[notifiers.broken.settings]
path = %[4]q

# The command is killed after 1 s.
[notifiers.slow]
builtin = "command"
[notifiers.slow.settings]
path = %[5]q
timeout = "1s"

# Nothing gives up before radmfa's decision timeout (3 s).
[notifiers.stuck]
builtin = "command"
timeout = "30s"
[notifiers.stuck.settings]
path = %[5]q
timeout = "30s"
`, sms, lab.outbox, lab.smtp.port, broken, lab.hang)
	return lab
}

// enrol adds the users: each has an authenticator app and one code
// device on a notifier (carl has none).
func (lab *codeLab) enrol(t *testing.T, e *env) {
	t.Helper()
	for _, u := range []struct{ name, secret string }{
		{"alice", secretAlice}, {"erin", secretCarol}, {"fred", secretDave}, {"hank", secretHostile}, {"stan", secretHostile}, {"carl", secretCarol},
	} {
		e.radmfa(t, u.secret+"\n", "user", "add", u.name, "--secret", "-", "--json")
	}
	for _, d := range [][]string{
		{"alice", "--sms", "--to", alicePhone, "--notifier", "sms"},
		{"erin", "--email", "--to", erinMail, "--notifier", "mail"},
		{"fred", "--sms", "--to", "+15550100", "--notifier", "broken"},
		{"hank", "--sms", "--to", "+15550101", "--notifier", "slow"},
		{"stan", "--sms", "--to", "+15550102", "--notifier", "stuck"},
	} {
		e.radmfa(t, "", append([]string{"device", "add"}, d...)...)
	}
}

// smsNote is what the command notifier's script got on stdin.
type smsNote struct {
	Kind, User, To, Subject, Message, Code string
}

// sms returns the notifications the SMS script received.
func (lab *codeLab) sms(t *testing.T) []smsNote {
	t.Helper()
	b, err := os.ReadFile(lab.outbox)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var notes []smsNote
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var n smsNote
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			t.Fatalf("sms outbox: %v: %q", err, line)
		}
		notes = append(notes, n)
	}
	return notes
}

// lastSMS returns the newest SMS, checking that exactly want were sent.
func (lab *codeLab) lastSMS(t *testing.T, want int) smsNote {
	t.Helper()
	notes := lab.sms(t)
	if len(notes) != want {
		t.Fatalf("the SMS gateway got %d notifications, want %d", len(notes), want)
	}
	n := notes[len(notes)-1]
	if n.Kind != "code" || n.User != "alice" || n.To != alicePhone || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(n.Code) ||
		!strings.Contains(n.Message, "Your sign-in code is "+n.Code+".") {
		t.Fatalf("SMS %+v: want a 6-digit code for alice at %s, in the message too", n, alicePhone)
	}
	return n
}

// wrongCode returns a code of the same length that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// codeScenario runs the SMS and e-mail code tests against one front door.
func codeScenario(t *testing.T, e *env, fr *freeRADIUS, lab *codeLab, door string) {
	t.Helper()
	alice := "User-Name = " + str("alice")
	pass := func(p string) string { return "User-Password = " + str(p) }
	state := func(r reply) string { return "State = " + r.get("State") }
	challenge := func(t *testing.T, r reply, msg string) {
		t.Helper()
		if r.Code != "Access-Challenge" || r.get("Reply-Message") != msg || len(r.get("State")) != 2+32 {
			t.Fatalf("got %s %v, want Access-Challenge %q with a 16-byte State", r.Code, r.Attrs, msg)
		}
	}
	expect := func(t *testing.T, r reply, code, msg string) {
		t.Helper()
		if r.Code != code || r.get("Reply-Message") != msg {
			t.Fatalf("got %s %v, want %s %q", r.Code, r.Attrs, code, msg)
		}
	}
	const sentTo = "Enter the code sent to +44…23"
	var codes []string // every code sent, to look for in logs

	t.Run("sms code round trip", func(t *testing.T) {
		ch := fr.send(t, alice, pass("s"))
		challenge(t, ch, sentTo)
		n := lab.lastSMS(t, 1)
		codes = append(codes, n.Code)
		expect(t, fr.send(t, alice, pass(n.Code), state(ch)), "Access-Accept", "")
		// Single use: the State is gone, and the code alone is no OTP.
		expect(t, fr.send(t, alice, pass(n.Code), state(ch)), "Access-Reject", mfa.MsgExpired)
		expect(t, fr.send(t, alice, pass(n.Code)), "Access-Reject", mfa.MsgFailed)
	})

	t.Run("wrong codes run out the attempts", func(t *testing.T) {
		ch := fr.send(t, alice, pass("S"))
		challenge(t, ch, sentTo)
		n := lab.lastSMS(t, 2)
		codes = append(codes, n.Code)
		// The previous code, a wrong one: asked again with a new State.
		again := fr.send(t, alice, pass(codes[0]), state(ch))
		challenge(t, again, "Wrong code. "+sentTo)
		if again.get("State") == ch.get("State") {
			t.Fatal("the re-challenge reuses the State")
		}
		// Multi-byte digits are not the code either.
		last := fr.send(t, alice, pass("１２３４５６"), state(again))
		challenge(t, last, "Wrong code. "+sentTo)
		// The third wrong answer ends it (attempts = 3).
		expect(t, fr.send(t, alice, pass(wrongCode(n.Code)), state(last)), "Access-Reject", mfa.MsgFailed)
		// Now even the right code is too late.
		expect(t, fr.send(t, alice, pass(n.Code), state(last)), "Access-Reject", mfa.MsgExpired)
		// An earlier State of the same challenge was used up by its answer.
		expect(t, fr.send(t, alice, pass(n.Code), state(again)), "Access-Reject", mfa.MsgExpired)
	})

	t.Run("app code answers an sms challenge", func(t *testing.T) {
		ch := fr.send(t, alice, pass("s"))
		challenge(t, ch, sentTo)
		codes = append(codes, lab.lastSMS(t, 3).Code)
		expect(t, fr.send(t, alice, pass(totpNow(t, secretAlice, 6, "SHA1")), state(ch)), "Access-Accept", "")
	})

	t.Run("rate limit", func(t *testing.T) {
		// The fourth code in 10 minutes is refused (rate_limit = 3).
		expect(t, fr.send(t, alice, pass("s")), "Access-Reject", mfa.MsgRateLimited)
		lab.lastSMS(t, 3)
	})

	t.Run("s without an sms device is a 1-char passcode", func(t *testing.T) {
		challenge(t, fr.send(t, "User-Name = "+str("carl"), pass("s")), mfa.MsgEnterAppCode)
	})

	t.Run("e-mail code through smtp", func(t *testing.T) {
		before := len(lab.smtp.messages())
		ch := fr.send(t, "User-Name = "+str("erin"), pass("e"))
		challenge(t, ch, "Enter the code sent to e…@example.com")
		msgs := lab.smtp.messages()
		if len(msgs) != before+1 {
			t.Fatalf("the SMTP receiver got %d messages, want %d", len(msgs), before+1)
		}
		m := msgs[len(msgs)-1]
		if m.from != "<mfa@example.com>" || m.to != "<"+erinMail+">" {
			t.Fatalf("envelope MAIL FROM %s RCPT TO %s", m.from, m.to)
		}
		code := mailCode(t, m.data)
		codes = append(codes, code)
		expect(t, fr.send(t, "User-Name = "+str("erin"), pass(wrongCode(code)), state(ch)), "Access-Challenge", "Wrong code. Enter the code sent to e…@example.com")
		// A second code, for a second challenge.
		ch = fr.send(t, "User-Name = "+str("erin"), pass("e"))
		challenge(t, ch, "Enter the code sent to e…@example.com")
		msgs = lab.smtp.messages()
		if len(msgs) != before+2 {
			t.Fatalf("the SMTP receiver got %d messages, want %d", len(msgs), before+2)
		}
		second := mailCode(t, msgs[before+1].data)
		expect(t, fr.send(t, "User-Name = "+str("erin"), pass(second), state(ch)), "Access-Accept", "")
		codes = append(codes, second)
	})

	t.Run("notifier fails", func(t *testing.T) {
		expect(t, fr.send(t, "User-Name = "+str("fred"), pass("s")), "Access-Reject", mfa.MsgPushFailed)
	})

	t.Run("notifier hangs past its timeout", func(t *testing.T) {
		start := time.Now()
		expect(t, fr.send(t, "User-Name = "+str("hank"), pass("s")), "Access-Reject", mfa.MsgPushFailed)
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("took %s: the command's timeout is 1 s", d)
		}
	})

	t.Run("notifier hangs past the decision timeout", func(t *testing.T) {
		start := time.Now()
		r := fr.send(t, "User-Name = "+str("stan"), pass("s"))
		if r.Code != "Access-Reject" {
			t.Fatalf("got %s %v, want Access-Reject", r.Code, r.Attrs)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Fatalf("took %s: radmfa's decision timeout is 3 s", d)
		}
		// The hung script was killed with its plugin.
		waitGone(t, lab.hang)
	})

	t.Run("events", func(t *testing.T) {
		evs := pcEvents(t, e)
		byUser := map[string][]pcEvent{}
		for _, ev := range evs {
			byUser[ev.User] = append(byUser[ev.User], ev)
			if ev.FrontDoor != door {
				t.Errorf("event %+v: front door %q, want %q", ev, ev.FrontDoor, door)
			}
		}
		hasEvent(t, byUser["alice"], "Challenge", "sms", "sms code sent to +44…23")
		hasEvent(t, byUser["alice"], "Success", "sms", "sms code accepted")
		hasEvent(t, byUser["alice"], "Failure", "sms", "wrong sms code")
		hasEvent(t, byUser["alice"], "Failure", "", "code refused: more than 3 codes in 10m0s")
		hasEvent(t, byUser["erin"], "Success", "email", "email code accepted")
		hasEvent(t, byUser["fred"], "Failure", "sms", "sms code could not be delivered")
		hasEvent(t, byUser["fred"], "Failure", "sms", "exit status 1: gateway: 403 account suspended")
		hasEvent(t, byUser["hank"], "Failure", "sms", "killed at the deadline")
		if len(byUser["stan"]) == 0 || byUser["stan"][0].Result != "Failure" {
			t.Errorf("stan's events %+v: want a Failure", byUser["stan"])
		}
		// No code reaches the events or the logs.
		logs := readFile(t, filepath.Join(e.dir, "radmfa.log"))
		for _, c := range codes {
			for _, ev := range evs {
				if strings.Contains(ev.Message, c) {
					t.Errorf("event %+v holds a code", ev)
				}
			}
			// Not inside a longer number: "duration":0.008801544 holds
			// no code.
			if regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`).MatchString(logs) {
				t.Errorf("radmfa.log holds the code %s", c)
			}
		}
	})
}

// hasEvent checks that one of evs has the result, method (if not empty)
// and a message containing msg.
func hasEvent(t *testing.T, evs []pcEvent, result, method, msg string) {
	t.Helper()
	for _, ev := range evs {
		if ev.Result == result && (method == "" || ev.Method == method) && strings.Contains(ev.Message, msg) {
			return
		}
	}
	t.Errorf("no %s event (method %q) with %q among %+v", result, method, msg, evs)
}

// pcEvent is an event as "radmfa report activity --json" prints it.
type pcEvent struct {
	TxID          string `json:"tx_id"`
	User          string `json:"user"`
	Result        string `json:"result"`
	Method        string `json:"method"`
	Trigger       string `json:"trigger"`
	Message       string `json:"message"`
	Device        string `json:"device"`
	FrontDoor     string `json:"front_door"`
	Client        string `json:"client"`
	NASIPAddress  string `json:"nas_ip_address"`
	NASIdentifier string `json:"nas_identifier"`
	Resource      string `json:"resource"`
}

// pcEvents returns the event log, newest first.
func pcEvents(t *testing.T, e *env, filter ...string) []pcEvent {
	t.Helper()
	var evs []pcEvent
	out := e.radmfa(t, "", append([]string{"report", "activity", "--json", "--limit", "1000"}, filter...)...)
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return evs
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// waitGone waits up to 5 s until no process runs with arg on its command
// line, and fails if one still does.
func waitGone(t *testing.T, arg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesWith(arg)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v still run %s", pids, arg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesWith lists the processes whose command line holds arg.
func processesWith(arg string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && bytes.Contains(b, []byte(arg)) {
			pids = append(pids, filepath.Base(filepath.Dir(d)))
		}
	}
	return pids
}

// mailCode returns the code in an e-mail the smtp notifier sent.
func mailCode(t *testing.T, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("mail: %v\n%s", err, data)
	}
	if got := m.Header.Get("Subject"); got != "Your sign-in code" {
		t.Errorf("Subject %q", got)
	}
	if got := m.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding %q", got)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	c := regexp.MustCompile(`Your sign-in code is ([0-9]{6})\.`).FindSubmatch(body)
	if c == nil {
		t.Fatalf("no code in the mail body:\n%s", body)
	}
	return string(c[1])
}

// smtpSink is a plain SMTP receiver on loopback that keeps every message.
type smtpSink struct {
	port int
	l    net.Listener
	wg   sync.WaitGroup

	mu   sync.Mutex
	msgs []sunkMail
}

type sunkMail struct {
	from, to string // MAIL FROM and RCPT TO arguments
	data     []byte
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{port: l.Addr().(*net.TCPAddr).Port, l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpSink) messages() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.msgs...)
}

// serve speaks just enough SMTP (RFC 5321) for one client.
func (s *smtpSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	tc := textproto.NewConn(c)
	tc.PrintfLine("220 sink.test ESMTP")
	var m sunkMail
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			tc.PrintfLine("250 sink.test")
		case "MAIL":
			from, ok := cutFold(arg, "FROM:")
			if !ok {
				tc.PrintfLine("501 syntax: MAIL FROM:<address>")
				continue
			}
			m = sunkMail{from: from}
			tc.PrintfLine("250 ok")
		case "RCPT":
			to, ok := cutFold(arg, "TO:")
			if !ok {
				tc.PrintfLine("501 syntax: RCPT TO:<address>")
				continue
			}
			m.to = to
			tc.PrintfLine("250 ok")
		case "DATA":
			tc.PrintfLine("354 go ahead")
			data, err := tc.ReadDotBytes()
			if err != nil {
				return
			}
			m.data = data
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			tc.PrintfLine("250 queued")
		case "RSET", "NOOP":
			tc.PrintfLine("250 ok")
		case "QUIT":
			tc.PrintfLine("221 bye")
			return
		default:
			tc.PrintfLine("502 not implemented")
		}
	}
}

// cutFold returns s after prefix (in any case), trimmed.
func cutFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(s[len(prefix):]), true
}
