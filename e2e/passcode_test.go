package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Secrets of the passcode test users (base32). secretAlice is RFC 4226's
// test key, so HOTP counter 1 is 287082.
const (
	secretTina = "NBSWY3DPEB3W64TMMQQGC3TEEBZXK3RA"
	secretTom  = "ORUGS4ZANFZSA5DPNUQGC3TEEBUGS4ZA"
)

// passcodeConfig locks after 3 failures and has two profiles: loopback
// (127.0.0.1, client "localhost") rejects unknown users, nas-b (the client
// 127.0.0.2, see nasBClient) lets them in. nas-b comes first, so a match
// on anything the NAS can spoof would pick it.
const passcodeConfig = `
[lockout]
failures = 3

[[profile]]
name = "nas-b"
clients = ["nas-b"]
resource = "Roll-out NAS"
unknown_user = "accept"

[[profile]]
name = "loopback"
clients = ["localhost", "127.0.0.1"]
resource = "Loopback NAS"
unknown_user = "reject"
`

// nasBClient is a second RADIUS client for FreeRADIUS, on another
// loopback address.
const nasBClient = `client nas-b {
	ipaddr = 127.0.0.2
	secret = testing123
}
`

// TestPasscodesThroughFreeRADIUS covers HOTP and TOTP resynchronisation
// through the outer window, lockout (a retransmitted packet counts once),
// profiles chosen by the authenticated client whatever NAS-Identifier
// says, help-desk bypass and malformed passcodes, with FreeRADIUS as the
// NAS, through each front door.
func TestPasscodesThroughFreeRADIUS(t *testing.T) {
	need(t, "oathtool")
	for _, door := range []string{viaExec, viaREST} {
		t.Run(door, func(t *testing.T) {
			extra := map[string]string{"sites-enabled/nas_b_client": nasBClient}
			var e *env
			var fr, fr2 *freeRADIUS
			if door == viaExec {
				e = newEnv(t, passcodeConfig)
				enrolPasscodeUsers(t, e)
				fr = startFreeRADIUSExtra(t, e, viaExec, "", extra)
				// A second FreeRADIUS running radmfa exec on the same
				// database: a NAS that fails over sends it the same packet.
				fr2 = startFreeRADIUS(t, e, viaExec, "")
			} else {
				needRLMRest(t)
				serveCfg, url, sock := serveConfig(t, t.TempDir())
				e = newEnv(t, serveCfg+passcodeConfig)
				enrolPasscodeUsers(t, e)
				startServe(t, e, url, sock)
				fr = startFreeRADIUSExtra(t, e, viaREST, url, extra)
				// A second FreeRADIUS on the same radmfa serve: a NAS that
				// fails over sends it the same packet.
				fr2 = startFreeRADIUS(t, e, viaREST, url)
			}
			t.Run("hotp resync through the outer window", func(t *testing.T) { hotpResync(t, e, fr) })
			t.Run("totp drift through the outer window", func(t *testing.T) { totpDrift(t, e, fr) })
			t.Run("lockout and unlock", func(t *testing.T) { lockout(t, e, fr, fr2) })
			t.Run("profile from the client, not NAS-Identifier", func(t *testing.T) { profiles(t, e, fr) })
			t.Run("help-desk bypass", func(t *testing.T) { bypass(t, e, fr) })
			t.Run("bad passcodes", func(t *testing.T) { badPasscodes(t, e, fr) })
		})
	}
}

func enrolPasscodeUsers(t *testing.T, e *env) {
	t.Helper()
	e.radmfa(t, secretAlice+"\n", "user", "add", "henry", "--hotp", "--counter", "0", "--secret", "-", "--json")
	for _, u := range []struct{ name, secret string }{
		{"tina", secretTina}, {"tom", secretTom}, {"lars", secretCarol}, {"bea", secretDave}, {"otto", secretHostile},
	} {
		e.radmfa(t, u.secret+"\n", "user", "add", u.name, "--secret", "-", "--json")
	}
}

// hotp returns the code of an HOTP token at counter, from oathtool.
func hotp(t *testing.T, secret string, counter int) string {
	t.Helper()
	return oathtool(t, "--hotp", "-b", "-c", strconv.Itoa(counter), secret)
}

// totpAt returns a TOTP code (SHA1, 6 digits, 30 s) of the step, from
// oathtool.
func totpAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	return oathtool(t, "--totp", "-b", "-N", "@"+strconv.FormatInt(step*30, 10), secret)
}

func oathtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("oathtool", args...).Output()
	if err != nil {
		t.Fatalf("oathtool %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// stableStep returns the current 30 s step, first waiting for the next
// one if this one ends in under 3 s, so a test's codes do not straddle a
// step boundary.
func stableStep() int64 {
	now := time.Now()
	if left := 30 - now.Unix()%30; left < 3 {
		time.Sleep(time.Duration(left)*time.Second + 100*time.Millisecond)
	}
	return time.Now().Unix() / 30
}

// userShow returns "radmfa user show NAME".
func userShow(t *testing.T, e *env, name string) string {
	t.Helper()
	return e.radmfa(t, "", "user", "show", name)
}

// lastEvent returns the user's newest event.
func lastEvent(t *testing.T, e *env, user string) pcEvent {
	t.Helper()
	evs := pcEvents(t, e, "--user", user)
	if len(evs) == 0 {
		t.Fatalf("no events for %s", user)
	}
	return evs[0]
}

// checkEvent checks an event's result and that its message contains msg.
func checkEvent(t *testing.T, ev pcEvent, result, msg string) {
	t.Helper()
	if ev.Result != result || !strings.Contains(ev.Message, msg) {
		t.Fatalf("event %+v: want %s with %q", ev, result, msg)
	}
}

// want checks a reply's code and Reply-Message.
func want(t *testing.T, r reply, code, msg string) {
	t.Helper()
	if r.Code != code || r.get("Reply-Message") != msg {
		t.Fatalf("got %s %v, want %s %q", r.Code, r.Attrs, code, msg)
	}
}

func login(t *testing.T, fr *freeRADIUS, user, passcode string, more ...string) reply {
	t.Helper()
	return fr.send(t, append([]string{"User-Name = " + str(user), "User-Password = " + str(passcode)}, more...)...)
}

func hotpResync(t *testing.T, e *env, fr *freeRADIUS) {
	// Counter 50 is past the look-ahead (10) but inside the outer window
	// (100): the token pressed too often while away.
	ch := login(t, fr, "henry", hotp(t, secretAlice, 50))
	want(t, ch, "Access-Challenge", mfa.MsgResync)
	checkEvent(t, lastEvent(t, e, "henry"), "Outer Window Authentication", "code 50 counters ahead")
	// A code that does not follow: no resync.
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 52), "State = "+ch.get("State")), "Access-Reject", mfa.MsgFailed)
	checkEvent(t, lastEvent(t, e, "henry"), "Failure", "the second code does not follow the first")
	if !strings.Contains(userShow(t, e, "henry"), "next counter 0") {
		t.Fatalf("a failed resync moved the counter:\n%s", userShow(t, e, "henry"))
	}
	// The next code does.
	ch = login(t, fr, "henry", hotp(t, secretAlice, 50))
	want(t, ch, "Access-Challenge", mfa.MsgResync)
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 51), "State = "+ch.get("State")), "Access-Accept", "")
	checkEvent(t, lastEvent(t, e, "henry"), "Success", "token resynchronised (counter 51)")
	if show := userShow(t, e, "henry"); !strings.Contains(show, "next counter 52") {
		t.Fatalf("user show after the resync:\n%s", show)
	}
	// Used codes stay used; the look-ahead now starts at 52.
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 51)), "Access-Reject", mfa.MsgCodeUsed)
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 55)), "Access-Accept", "")
	checkEvent(t, lastEvent(t, e, "henry"), "Success", "OTP accepted (counter 55)")
	// Past the outer window: just wrong.
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 500)), "Access-Reject", mfa.MsgFailed)
	checkEvent(t, lastEvent(t, e, "henry"), "Failure", "wrong OTP")

	// An admin resynchronises from two codes far ahead.
	out := e.radmfa(t, "", "user", "resync", "henry", hotp(t, secretAlice, 300), hotp(t, secretAlice, 301))
	if !strings.Contains(out, "resynchronised") {
		t.Fatalf("user resync: %s", out)
	}
	if show := userShow(t, e, "henry"); !strings.Contains(show, "next counter 302") {
		t.Fatalf("user show after user resync:\n%s", show)
	}
	want(t, login(t, fr, "henry", hotp(t, secretAlice, 302)), "Access-Accept", "")
}

func totpDrift(t *testing.T, e *env, fr *freeRADIUS) {
	for _, tt := range []struct {
		user, secret string
		first        int64 // steps from now of the first code (outer window: ±10)
		drift        string
	}{
		{"tina", secretTina, +5, "drift +6 steps"}, // the token's clock runs fast
		{"tom", secretTom, -4, "drift -3 steps"},   // or slow
	} {
		t.Run(tt.user, func(t *testing.T) {
			s := stableStep()
			ch := login(t, fr, tt.user, totpAt(t, tt.secret, s+tt.first))
			want(t, ch, "Access-Challenge", mfa.MsgResync)
			checkEvent(t, lastEvent(t, e, tt.user), "Outer Window Authentication", fmt.Sprintf("code %+d steps away", tt.first))
			want(t, login(t, fr, tt.user, totpAt(t, tt.secret, s+tt.first+1), "State = "+ch.get("State")), "Access-Accept", "")
			checkEvent(t, lastEvent(t, e, tt.user), "Success", "token resynchronised ("+tt.drift+")")
			if show := userShow(t, e, tt.user); !strings.Contains(show, tt.drift) {
				t.Fatalf("user show does not show %q:\n%s", tt.drift, show)
			}
			// The learnt drift centres the window: the token's next code
			// is accepted at once.
			want(t, login(t, fr, tt.user, totpAt(t, tt.secret, s+tt.first+2)), "Access-Accept", "")
		})
	}
}

// notACode returns a 6-digit code that no TOTP step within ±12 of now
// shows for secret: wrong, and not close enough to ask for a resync.
func notACode(t *testing.T, secret string, avoid ...string) string {
	t.Helper()
	s := time.Now().Unix() / 30
	used := map[string]bool{}
	for _, a := range avoid {
		used[a] = true
	}
	for i := s - 12; i <= s+12; i++ {
		used[totpAt(t, secret, i)] = true
	}
	for d := 0; ; d++ {
		c := strings.Repeat(strconv.Itoa(d%10), 5) + strconv.Itoa(d/10%10)
		if !used[c] {
			return c
		}
	}
}

func lockout(t *testing.T, e *env, fr, fr2 *freeRADIUS) {
	nas := newRawNAS(t, "127.0.0.1", fr.secret)
	wrong1 := notACode(t, secretCarol)
	wrong2 := notACode(t, secretCarol, wrong1)
	wrong3 := notACode(t, secretCarol, wrong1, wrong2)
	failures := func(want string) {
		t.Helper()
		if show := userShow(t, e, "lars"); !strings.Contains(show, want) {
			t.Fatalf("user show: want %q\n%s", want, show)
		}
	}

	// The NAS sends the same packet twice (its reply was lost): FreeRADIUS
	// answers the second from its cache, and it counts once.
	p := nas.accessRequest(t, "lars", wrong1)
	want(t, nas.exchange(t, fr, p), "Access-Reject", mfa.MsgFailed)
	want(t, nas.exchange(t, fr, p), "Access-Reject", mfa.MsgFailed)
	failures("1 recent failure(s)")
	if fr2 != nil {
		// The same packet through another FreeRADIUS (NAS fail-over):
		// radmfa knows it by source and Request Authenticator.
		want(t, nas.exchange(t, fr2, p), "Access-Reject", mfa.MsgFailed)
		failures("1 recent failure(s)")
	}
	// The same wrong code in a new packet is a new failure.
	want(t, nas.exchange(t, fr, nas.accessRequest(t, "lars", wrong1)), "Access-Reject", mfa.MsgFailed)
	failures("2 recent failure(s)")
	want(t, login(t, fr, "lars", wrong2), "Access-Reject", mfa.MsgFailed)
	evs := pcEvents(t, e, "--user", "lars")
	if len(evs) < 2 || evs[0].Message != "account locked" || evs[1].Message != "wrong OTP" || evs[0].Result != "Failure" {
		t.Fatalf("events after the third failure: %+v; want wrong OTP, then account locked", evs)
	}
	if show := userShow(t, e, "lars"); !strings.Contains(show, "locked until") {
		t.Fatalf("user show after the lockout:\n%s", show)
	}
	// Locked: even the right code is refused.
	good := totpNow(t, secretCarol, 6, "SHA1")
	want(t, login(t, fr, "lars", good), "Access-Reject", mfa.MsgLocked)
	checkEvent(t, lastEvent(t, e, "lars"), "Failure", "account locked")
	want(t, login(t, fr, "lars", wrong3), "Access-Reject", mfa.MsgLocked)

	out := e.radmfa(t, "", "user", "unlock", "lars")
	if !strings.Contains(out, "unlocked") {
		t.Fatalf("user unlock: %s", out)
	}
	want(t, login(t, fr, "lars", good), "Access-Accept", "")
	failures("Status:  enabled\n")
}

func profiles(t *testing.T, e *env, fr *freeRADIUS) {
	nasB := newRawNAS(t, "127.0.0.2", fr.secret)
	nasIdent := func(s string) radAttr { return radAttr{32, []byte(s)} }
	nasIP := func(s string) radAttr { return radAttr{4, net.ParseIP(s).To4()} }

	// From 127.0.0.1, claiming to be nas-b in every attribute the NAS
	// controls: still the loopback profile, which rejects unknown users.
	r := login(t, fr, "mallory", "123456", "NAS-Identifier = "+str("nas-b"), "NAS-IP-Address = 127.0.0.2")
	want(t, r, "Access-Reject", mfa.MsgFailed)
	ev := lastEvent(t, e, "mallory")
	checkEvent(t, ev, "Failure", "unknown user")
	if ev.Client != "localhost" || ev.Resource != "Loopback NAS" || ev.NASIdentifier != "nas-b" || ev.NASIPAddress != "127.0.0.2" {
		t.Fatalf("event %+v: want client localhost, resource Loopback NAS and the spoofed NAS attributes", ev)
	}
	// The profile's name as NAS-Identifier does not pick it either.
	want(t, login(t, fr, "mallory", "123456", "NAS-Identifier = "+str("Roll-out NAS")), "Access-Reject", mfa.MsgFailed)

	// From nas-b itself (127.0.0.2) the nas-b profile applies, even when
	// it says it is the loopback NAS.
	want(t, nasB.exchange(t, fr, nasB.accessRequest(t, "mallory", "123456", nasIdent("loopback"), nasIP("127.0.0.1"))), "Access-Accept", "")
	ev = lastEvent(t, e, "mallory")
	checkEvent(t, ev, "Success", "unknown user accepted without a second factor (profile nas-b")
	if ev.Client != "nas-b" || ev.Resource != "Roll-out NAS" {
		t.Fatalf("event %+v: want client nas-b and resource Roll-out NAS", ev)
	}
}

func bypass(t *testing.T, e *env, fr *freeRADIUS) {
	want(t, login(t, fr, "bea", "lost my phone"), "Access-Reject", mfa.MsgFailed)
	e.radmfa(t, "", "user", "bypass", "bea", "--for", "1h")
	if show := userShow(t, e, "bea"); !strings.Contains(show, "Bypass:  no second factor until") {
		t.Fatalf("user show during a bypass:\n%s", show)
	}
	for _, p := range []string{"lost my phone", "123456", "p"} {
		want(t, login(t, fr, "bea", p), "Access-Accept", "")
		ev := lastEvent(t, e, "bea")
		checkEvent(t, ev, "Success", "help-desk bypass until")
		if ev.Method != "bypass" {
			t.Fatalf("event %+v: want method bypass", ev)
		}
	}
	e.radmfa(t, "", "user", "bypass", "bea", "--end")
	want(t, login(t, fr, "bea", "lost my phone"), "Access-Reject", mfa.MsgFailed)

	out := e.radmfa(t, "", "user", "bypass", "bea", "--code")
	m := regexp.MustCompile(`bypass code for "bea": ([0-9]{8})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("user bypass --code printed %q", out)
	}
	want(t, login(t, fr, "bea", m[1]), "Access-Accept", "")
	ev := lastEvent(t, e, "bea")
	checkEvent(t, ev, "Success", "one-time bypass code used")
	if ev.Method != "bypass" || strings.Contains(ev.Message, m[1]) {
		t.Fatalf("event %+v: want method bypass, and no code", ev)
	}
	// Once only.
	want(t, login(t, fr, "bea", m[1]), "Access-Reject", mfa.MsgFailed)
	checkEvent(t, lastEvent(t, e, "bea"), "Failure", "invalid passcode: no enabled device has 8 digits")
	// The help desk's actions are in the audit log.
	audit := e.radmfa(t, "", "report", "audit")
	if n := strings.Count(audit, "bypass"); n < 3 {
		t.Fatalf("audit log shows %d bypass entries, want the window, its end and the code:\n%s", n, audit)
	}
	if strings.Contains(audit, m[1]) {
		t.Fatal("the audit log holds the bypass code")
	}
}

func badPasscodes(t *testing.T, e *env, fr *freeRADIUS) {
	tests := []struct {
		name, passcode, message, event string
	}{
		{"too short", "12345", mfa.MsgFailed, "invalid passcode: no enabled device has 5 digits"},
		{"too long", "1234567", mfa.MsgFailed, "invalid passcode: no enabled device has 7 digits"},
		{"not digits", "12345a", mfa.MsgFailed, "invalid passcode"},
		{"full-width digits", "１２３４５６", mfa.MsgFailed, "invalid passcode"},
		{"digits and a multi-byte letter", "12345é", mfa.MsgFailed, "invalid passcode"},
		{"spaces around a code", " 123456 ", mfa.MsgFailed, "invalid passcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.radmfa(t, "", "user", "unlock", "otto") // each counts as a failure
			want(t, login(t, fr, "otto", tt.passcode), "Access-Reject", tt.message)
			checkEvent(t, lastEvent(t, e, "otto"), "Failure", tt.event)
		})
	}
	t.Run("State replayed after success", func(t *testing.T) {
		e.radmfa(t, "", "user", "unlock", "otto")
		ch := fr.send(t, "User-Name = "+str("otto"))
		want(t, ch, "Access-Challenge", mfa.MsgEnterAppCode)
		s := stableStep()
		want(t, login(t, fr, "otto", totpAt(t, secretHostile, s), "State = "+ch.get("State")), "Access-Accept", "")
		want(t, login(t, fr, "otto", totpAt(t, secretHostile, s+1), "State = "+ch.get("State")), "Access-Reject", mfa.MsgExpired)
		checkEvent(t, lastEvent(t, e, "otto"), "Failure", "unknown State")
	})
}

// rawNAS is a RADIUS client (RFC 2865) on a socket of its own, for what
// radclient cannot do: send from another loopback address, and send the
// very same packet (Identifier, Request Authenticator, source port) twice.
type rawNAS struct {
	conn   *net.UDPConn
	secret string
	id     byte
	resend time.Time // when exchange sends the packet again
}

func newRawNAS(t *testing.T, ip, secret string) *rawNAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawNAS{conn: conn, secret: secret}
}

type radAttr struct {
	typ byte
	val []byte
}

// RADIUS codes and attribute types used here.
const (
	radAccessRequest   = 1
	radAttrUserName    = 1
	radAttrPassword    = 2
	radAttrReplyMsg    = 18
	radAttrState       = 24
	radAttrMessageAuth = 80
)

// accessRequest returns an Access-Request with a new Identifier and
// Request Authenticator, the password hidden as RFC 2865 §5.2 says, and a
// Message-Authenticator (RFC 3579).
func (n *rawNAS) accessRequest(t *testing.T, user, password string, extra ...radAttr) []byte {
	t.Helper()
	n.id++
	var auth [16]byte
	if _, err := rand.Read(auth[:]); err != nil {
		t.Fatal(err)
	}
	attrs := append([]radAttr{{radAttrUserName, []byte(user)}, {radAttrPassword, n.hidePassword(password, auth[:])}}, extra...)
	attrs = append(attrs, radAttr{radAttrMessageAuth, make([]byte, 16)})
	p := []byte{radAccessRequest, n.id, 0, 0}
	p = append(p, auth[:]...)
	for _, a := range attrs {
		if len(a.val) > 253 {
			t.Fatalf("attribute %d: %d bytes", a.typ, len(a.val))
		}
		p = append(p, a.typ, byte(2+len(a.val)))
		p = append(p, a.val...)
	}
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	mac := hmac.New(md5.New, []byte(n.secret))
	mac.Write(p)
	copy(p[len(p)-16:], mac.Sum(nil))
	return p
}

func (n *rawNAS) hidePassword(password string, auth []byte) []byte {
	b := []byte(password)
	if len(b) == 0 || len(b)%16 != 0 {
		b = append(b, make([]byte, 16-len(b)%16)...)
	}
	prev := auth
	for i := 0; i < len(b); i += 16 {
		h := md5.Sum(append([]byte(n.secret), prev...))
		for j := range 16 {
			b[i+j] ^= h[j]
		}
		prev = b[i : i+16]
	}
	return b
}

// exchange sends p to FreeRADIUS and returns its reply, checking the
// Response Authenticator. Like a NAS it sends p again after each second
// without an answer (FreeRADIUS drops a duplicate that arrives while it
// still finishes the original).
func (n *rawNAS) exchange(t *testing.T, fr *freeRADIUS, p []byte) reply {
	t.Helper()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: fr.port}
	buf := make([]byte, 4096)
	for tries := 0; ; {
		if tries == 0 || time.Now().After(n.resend) {
			if tries++; tries > 20 {
				t.Fatalf("no reply from FreeRADIUS to %d transmissions", tries-1)
			}
			if _, err := n.conn.WriteToUDP(p, to); err != nil {
				t.Fatal(err)
			}
			n.resend = time.Now().Add(time.Second)
			n.conn.SetReadDeadline(n.resend)
		}
		k, _, err := n.conn.ReadFromUDP(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		r := buf[:k]
		if k < 20 || r[1] != p[1] || int(binary.BigEndian.Uint16(r[2:])) != k {
			continue // not the answer to p
		}
		check := append(append(append([]byte{}, r[:4]...), p[4:20]...), r[20:]...)
		sum := md5.Sum(append(check, n.secret...))
		if !bytes.Equal(sum[:], r[4:20]) {
			t.Fatalf("reply with a wrong Response Authenticator: % x", r)
		}
		return parseReply(t, r)
	}
}

func parseReply(t *testing.T, r []byte) reply {
	t.Helper()
	names := map[byte]string{2: "Access-Accept", 3: "Access-Reject", 11: "Access-Challenge"}
	rep := reply{Code: names[r[0]], Attrs: map[string][]string{}}
	if rep.Code == "" {
		t.Fatalf("reply code %d", r[0])
	}
	for a := r[20:]; len(a) > 0; {
		if len(a) < 2 || int(a[1]) < 2 || int(a[1]) > len(a) {
			t.Fatalf("malformed attributes in the reply: % x", r)
		}
		v := a[2:a[1]]
		switch a[0] {
		case radAttrReplyMsg:
			rep.Attrs["Reply-Message"] = append(rep.Attrs["Reply-Message"], string(v))
		case radAttrState:
			rep.Attrs["State"] = append(rep.Attrs["State"], "0x"+hex.EncodeToString(v))
		case radAttrMessageAuth:
		default:
			rep.Attrs[strconv.Itoa(int(a[0]))] = append(rep.Attrs[strconv.Itoa(int(a[0]))], hex.EncodeToString(v))
		}
		a = a[a[1]:]
	}
	return rep
}
