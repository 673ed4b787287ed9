package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/otpauth"
)

// Secrets of the test users (base32).
const (
	secretAlice   = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	secretCarol   = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
	secretHostile = "ONSWG4TFORZWKY3SMV2HG2LEMVQWY2LU"
	secretDave    = "KRUGS4ZANFZSAZDBOZSSA43FMNZGK5BA"
)

// hostileEnrolled is a real user whose name needs escaping on every path.
const hostileEnrolled = `O'Brien, "x" \y`

// totpNow returns the current code of a 30 s SHA1 device.
func totpNow(t *testing.T, secret string, digits int, alg string) string {
	t.Helper()
	key, err := otpauth.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	d := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: alg, Digits: digits, Period: 30, Secret: key}
	c, err := mfa.Code(d, mfa.Step(d, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTestUsers adds the users of the front-door scenario.
func enrolTestUsers(t *testing.T, e *env) {
	t.Helper()
	for _, u := range []struct{ name, secret, extra string }{
		{"alice", secretAlice, ""},
		{"carol", secretCarol, ""},
		{hostileEnrolled, secretHostile, ""},
		{"dave", secretDave, "--digits=8 --algorithm=SHA256"},
	} {
		args := []string{"user", "add", u.name, "--secret", "-", "--json"}
		if u.extra != "" {
			args = append(args, strings.Fields(u.extra)...)
		}
		e.radmfa(t, u.secret+"\n", args...)
	}
}

// TestExecThroughFreeRADIUS drives FreeRADIUS with radclient as the NAS;
// FreeRADIUS calls radmfa exec through the shipped rlm_exec snippets.
func TestExecThroughFreeRADIUS(t *testing.T) {
	e := newEnv(t, "")
	enrolTestUsers(t, e)
	frontDoorScenario(t, e, startFreeRADIUS(t, e, viaExec, ""), "exec")
}

// TestRESTThroughFreeRADIUS runs the same scenario with FreeRADIUS asking
// radmfa serve through the shipped rlm_rest snippets.
func TestRESTThroughFreeRADIUS(t *testing.T) {
	need(t, "freeradius")
	if _, err := os.Stat("/usr/lib/freeradius/rlm_rest.so"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rlm_rest is not installed: CI never skips, run scripts/deps.sh (freeradius-rest)")
		}
		t.Skip("rlm_rest is not installed (freeradius-rest)")
	}
	dir := t.TempDir()
	serveCfg, url, sock := serveConfig(t, dir)
	e := newEnv(t, serveCfg)
	enrolTestUsers(t, e)
	startServe(t, e, url, sock)
	frontDoorScenario(t, e, startFreeRADIUS(t, e, viaREST, url), "rest")
}

// TestExecForwardedToServe runs the scenario through rlm_exec with [exec]
// daemon set: radmfa exec hands every request to radmfa serve.
func TestExecForwardedToServe(t *testing.T) {
	dir := t.TempDir()
	serveCfg, url, sock := serveConfig(t, dir)
	e := newEnv(t, serveCfg+"\n[exec]\ndaemon = \"unix:"+sock+"\"\n")
	enrolTestUsers(t, e)
	srv := startServe(t, e, url, sock)
	frontDoorScenario(t, e, startFreeRADIUS(t, e, viaExec, ""), "exec")
	// serve made the decisions: its metrics count them.
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `radmfa_decisions_total{front_door="exec",result="accept",client="localhost"} 4`) {
		t.Fatalf("serve's metrics do not show the forwarded decisions:\n%s", b)
	}
}

// frontDoorScenario sends the same requests through any front door:
// accept, replay, wrong codes, hostile names, a challenge round trip; and
// checks the events. door is the front door the events must name.
func frontDoorScenario(t *testing.T, e *env, fr *freeRADIUS, door string) {
	t.Helper()

	aliceCode := totpNow(t, secretAlice, 6, "SHA1")
	tests := []struct {
		name    string
		attrs   []string
		code    string
		message string
	}{
		{"fresh TOTP accepted", []string{"User-Name = " + str("alice"), "User-Password = " + str(aliceCode)}, "Access-Accept", ""},
		{"same code replayed", []string{"User-Name = " + str("alice"), "User-Password = " + str(aliceCode)}, "Access-Reject", mfa.MsgCodeUsed},
		{"wrong code", []string{"User-Name = " + str("alice"), "User-Password = " + str("000000")}, "Access-Reject", mfa.MsgFailed},
		{"upper-case user name", []string{"User-Name = " + str("ALICE"), "User-Password = " + str("999999")}, "Access-Reject", mfa.MsgFailed},
		{"8-digit SHA256 device", []string{"User-Name = " + str("dave"), "User-Password = " + str(totpNow(t, secretDave, 8, "SHA256"))}, "Access-Accept", ""},
		{"password instead of code", []string{"User-Name = " + str("alice"), "User-Password = " + str("hunter2")}, "Access-Reject", mfa.MsgFailed},
		{"unknown user", []string{"User-Name = " + str("mallory"), "User-Password = " + str("123456")}, "Access-Reject", mfa.MsgFailed},
		{"hostile enrolled name accepted", []string{"User-Name = " + str(hostileEnrolled), "User-Password = " + str(totpNow(t, secretHostile, 6, "SHA1"))}, "Access-Accept", ""},
		{"injection via quote", []string{"User-Name = " + str(`alice", Auth-Type := Accept`), "User-Password = " + str("123456")}, "Access-Reject", mfa.MsgFailed},
		{"injection via newline", []string{"User-Name = " + str("alice\nAuth-Type := Accept"), "User-Password = " + str("123456")}, "Access-Reject", mfa.MsgFailed},
		{"xlat in user name", []string{"User-Name = " + str("%{User-Password}"), "User-Password = " + str(totpNow(t, secretAlice, 6, "SHA1"))}, "Access-Reject", mfa.MsgFailed},
		{"invalid UTF-8 user name", []string{`User-Name = "bob\377"`, "User-Password = " + str("123456")}, "Access-Reject", mfa.MsgFailed},
		{"State never issued", []string{"User-Name = " + str("alice"), "User-Password = " + str("123456"), "State = 0x00112233445566778899aabbccddeeff"}, "Access-Reject", mfa.MsgExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fr.send(t, tt.attrs...)
			if r.Code != tt.code {
				t.Fatalf("got %s %v, want %s", r.Code, r.Attrs, tt.code)
			}
			if got := r.get("Reply-Message"); got != tt.message {
				t.Fatalf("Reply-Message %q, want %q", got, tt.message)
			}
			if tt.code == "Access-Accept" && len(r.Attrs) != 0 {
				t.Fatalf("Access-Accept carries attributes %v", r.Attrs)
			}
		})
	}

	t.Run("challenge round trip", func(t *testing.T) {
		ch := fr.send(t, "User-Name = "+str("carol"))
		if ch.Code != "Access-Challenge" || ch.get("Reply-Message") != mfa.MsgEnterAppCode {
			t.Fatalf("got %s %v, want a challenge for the app's code", ch.Code, ch.Attrs)
		}
		state := ch.get("State")
		if !strings.HasPrefix(state, "0x") || len(state) != 2+32 {
			t.Fatalf("State %q: want 16 random bytes", state)
		}
		// Another user cannot answer carol's challenge.
		if r := fr.send(t, "User-Name = "+str("alice"), "User-Password = "+str(totpNow(t, secretAlice, 6, "SHA1")), "State = "+state); r.Code != "Access-Reject" {
			t.Fatalf("alice answering carol's State: %s", r.Code)
		}
		// That attempt used up the State: single use even when misused.
		ch = fr.send(t, "User-Name = "+str("carol"), "User-Password = "+str("p"))
		if ch.Code != "Access-Challenge" {
			t.Fatalf("1-char trigger: got %s, want a challenge", ch.Code)
		}
		state = ch.get("State")
		ok := fr.send(t, "User-Name = "+str("carol"), "User-Password = "+str(totpNow(t, secretCarol, 6, "SHA1")), "State = "+state)
		if ok.Code != "Access-Accept" {
			t.Fatalf("answer: got %s %v, want Access-Accept", ok.Code, ok.Attrs)
		}
		again := fr.send(t, "User-Name = "+str("carol"), "User-Password = "+str("123456"), "State = "+state)
		if again.Code != "Access-Reject" {
			t.Fatalf("reused State: got %s, want Access-Reject", again.Code)
		}
	})

	t.Run("events recorded", func(t *testing.T) {
		var events []struct {
			User, Result, Message, Trigger, Client string
			FrontDoor                              string `json:"front_door"`
			TxID                                   string `json:"tx_id"`
		}
		out := e.radmfa(t, "", "report", "activity", "--json", "--limit", "100")
		if err := json.Unmarshal([]byte(out), &events); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := len(tests) + 5 // the challenge round trip sends 5 requests
		if len(events) != want {
			t.Fatalf("%d events, want %d (one per request)", len(events), want)
		}
		results := map[string]int{}
		for _, ev := range events {
			results[ev.Result]++
			if ev.FrontDoor != door || ev.Client != "localhost" {
				t.Errorf("event %+v: want front door %s and client localhost", ev, door)
			}
			if strings.Contains(out, aliceCode) {
				t.Fatal("a passcode reached the event log")
			}
		}
		if results["Success"] != 4 || results["Challenge"] != 2 {
			t.Fatalf("results %v: want 4 Success and 2 Challenge", results)
		}
		// The challenge and its answer share a transaction.
		if events[1].TxID != events[2].TxID || events[2].Result != "Challenge" || events[1].Result != "Success" {
			t.Fatalf("challenge/answer events %+v %+v", events[2], events[1])
		}
	})
}
