package mfa_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
	"github.com/radmfa/radmfa/internal/mschap"
)

// mschapRequest builds the MS-CHAPv2 request a client sends for user and
// password, as the ntlm_auth front door passes it (the challenge hash).
func mschapRequest(t *testing.T, door mfa.FrontDoor, user, password string) mfa.Request {
	t.Helper()
	auth, peer := make([]byte, mschap.ChallengeLen), make([]byte, mschap.ChallengeLen)
	rand.Read(auth)
	rand.Read(peer)
	c, err := mschap.ChallengeHash(peer, auth, user)
	if err != nil {
		t.Fatal(err)
	}
	r, err := mschap.GenerateNTResponse(auth, peer, user, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return mfa.Request{FrontDoor: door, UserName: user, MSCHAP: &mfa.MSCHAPv2{ChallengeHash: c, NTResponse: r},
		NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1000, Identifier: "gw1", CallingStationID: "203.0.113.9"}}
}

// checkNTKey checks that an Accept carries the NT hash of password.
func checkNTKey(t *testing.T, d mfa.Decision, password string) {
	t.Helper()
	if d.Action != mfa.ActionAccept {
		t.Fatalf("got %v %q (%s), want accept", d.Action, d.Message, d.Reason)
	}
	want, err := mschap.NTPasswordHash([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	if d.MSCHAP == nil || d.MSCHAP.NTHash != want {
		t.Fatalf("accept without the NT hash of the passcode: %+v", d.MSCHAP)
	}
	key, _ := mschap.NTKey([]byte(password))
	if d.MSCHAP.NTKey() != key || d.MSCHAP.NTPassword() != want.Octets() {
		t.Fatal("NTKey or NTPassword does not derive from the NT hash")
	}
}

// mschapFixture: bob has a TOTP app and an HOTP token; dan has an app, an
// SMS number and an e-mail address (no push). No push is configured.
func mschapFixture(t *testing.T, cfg mfa.Config) *pushFixture {
	t.Helper()
	f := &pushFixture{store: mfatest.NewStore(), clock: mfatest.NewClock(t0), notifier: &mfatest.Notifier{}, phone: totp("phone", secretA)}
	token := mfa.Device{Name: "token", Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: secretB, LastStep: 4}
	f.store.AddUser("bob", false, f.phone, token)
	f.store.AddUser("dan", false, totp("phone", secretB),
		mfa.Device{Name: "mobile", Kind: mfa.DeviceSMS, Address: "+447700900123", Notifier: "sms"},
		mfa.Device{Name: "mail", Kind: mfa.DeviceEmail, Address: "dan@example.com", Notifier: "smtp"})
	f.store.AddUser("erin", false, mfa.Device{Name: "mail", Kind: mfa.DeviceEmail, Address: "erin@example.com"})
	f.store.AddUser("dave", false)
	e, err := mfa.New(f.store, cfg, mfa.WithClock(f.clock.Now), mfa.WithNotifier(f.notifier))
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	return f
}

func TestMSCHAPv2(t *testing.T) {
	phone := totp("phone", secretA)
	hotpToken := mfa.Device{Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: secretB}
	hotpCode := func(counter int64) func(*testing.T) string {
		return func(t *testing.T) string {
			c, err := mfa.Code(hotpToken, counter)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	fixed := func(s string) func(*testing.T) string { return func(*testing.T) string { return s } }
	tests := []struct {
		name     string
		door     mfa.FrontDoor
		user     string
		password func(t *testing.T) string
		action   mfa.Action
		message  string
		event    string // Result:Message
		method   mfa.Method
		trigger  mfa.Trigger
		device   string
		counts   bool // toward lockout
	}{
		{"totp code", mfa.FrontDoorNTLMAuth, "bob", func(t *testing.T) string { return code(t, phone, t0, 0) },
			mfa.ActionAccept, "", "Success:OTP accepted", mfa.MethodTOTP, mfa.TriggerCode, "phone", false},
		{"previous step", mfa.FrontDoorNTLMAuth, "bob", func(t *testing.T) string { return code(t, phone, t0, -1) },
			mfa.ActionAccept, "", "Success:OTP accepted (-1 step)", mfa.MethodTOTP, mfa.TriggerCode, "phone", false},
		{"upper-case user name", mfa.FrontDoorREST, "BOB", func(t *testing.T) string { return code(t, phone, t0, 1) },
			mfa.ActionAccept, "", "Success:OTP accepted (+1 step)", mfa.MethodTOTP, mfa.TriggerCode, "phone", false},
		{"hotp look-ahead", mfa.FrontDoorNTLMAuth, "bob", hotpCode(9),
			mfa.ActionAccept, "", "Success:OTP accepted (counter 9)", mfa.MethodHOTP, mfa.TriggerCode, "token", false},
		{"hotp code already used", mfa.FrontDoorNTLMAuth, "bob", hotpCode(4),
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"outside the window: no resync over MS-CHAPv2", mfa.FrontDoorNTLMAuth, "bob", func(t *testing.T) string { return code(t, phone, t0, -2) },
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"wrong code", mfa.FrontDoorNTLMAuth, "bob", fixed("000000"),
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"forbidden 1-character passcode", mfa.FrontDoorNTLMAuth, "bob", fixed("x"),
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"digit as 1-character passcode", mfa.FrontDoorNTLMAuth, "bob", fixed("1"),
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"empty password", mfa.FrontDoorNTLMAuth, "bob", fixed(""),
			mfa.ActionReject, mfa.MsgFailed, "Failure:MS-CHAPv2 response matches no valid code or trigger", mfa.MethodNone, mfa.TriggerOther, "", true},
		{"p without push", mfa.FrontDoorNTLMAuth, "bob", fixed("p"),
			mfa.ActionReject, "Push is not available here; sign in with a code from your authenticator app",
			"Failure:push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method", mfa.MethodNone, mfa.TriggerOneChar, "", false},
		{"P", mfa.FrontDoorREST, "bob", fixed("P"),
			mfa.ActionReject, "Push is not available here; sign in with a code from your authenticator app",
			"Failure:push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method", mfa.MethodNone, mfa.TriggerOneChar, "", false},
		{"space", mfa.FrontDoorNTLMAuth, "bob", fixed(" "),
			mfa.ActionReject, "Push is not available here; sign in with a code from your authenticator app",
			"Failure:push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method", mfa.MethodNone, mfa.TriggerOneChar, "", false},
		{"g", mfa.FrontDoorNTLMAuth, "bob", fixed("G"),
			mfa.ActionReject, "Push is not available here; sign in with a code from your authenticator app",
			"Failure:push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method", mfa.MethodNone, mfa.TriggerGrid, "", false},
		{"s without SMS", mfa.FrontDoorNTLMAuth, "bob", fixed("s"),
			mfa.ActionReject, "Push is not available here; sign in with a code from your authenticator app",
			"Failure:push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method", mfa.MethodNone, mfa.TriggerSMS, "", false},
		{"s sends an SMS code", mfa.FrontDoorNTLMAuth, "dan", fixed("s"),
			mfa.ActionReject, "A code was sent to +44…23: sign in again with the code as your password",
			"Challenge:sms code sent to +44…23", mfa.MethodSMS, mfa.TriggerSMS, "mobile", false},
		{"E sends an e-mail code", mfa.FrontDoorREST, "dan", fixed("E"),
			mfa.ActionReject, "A code was sent to d…@example.com: sign in again with the code as your password",
			"Challenge:email code sent to d…@example.com", mfa.MethodEmail, mfa.TriggerEmail, "mail", false},
		{"p without push sends the fallback code", mfa.FrontDoorNTLMAuth, "dan", fixed("p"),
			mfa.ActionReject, "A code was sent to +44…23: sign in again with the code as your password",
			"Challenge:sms code sent to +44…23", mfa.MethodSMS, mfa.TriggerOneChar, "mobile", false},
		{"s for a user with only e-mail: fallback", mfa.FrontDoorNTLMAuth, "erin", fixed("s"),
			mfa.ActionReject, "A code was sent to e…@example.com: sign in again with the code as your password",
			"Challenge:email code sent to e…@example.com", mfa.MethodEmail, mfa.TriggerSMS, "mail", false},
		{"unknown user", mfa.FrontDoorNTLMAuth, "mallory", fixed("123456"),
			mfa.ActionReject, mfa.MsgFailed, "Failure:unknown user", mfa.MethodNone, mfa.TriggerInvalid, "", false},
		{"no device", mfa.FrontDoorNTLMAuth, "dave", fixed("123456"),
			mfa.ActionReject, mfa.MsgFailed, "Failure:user has no enabled device", mfa.MethodNone, mfa.TriggerInvalid, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mschapFixture(t, mfa.Config{})
			password := tt.password(t)
			d := f.decide(t, mschapRequest(t, tt.door, tt.user, password))
			if d.Action != tt.action || d.Message != tt.message {
				t.Fatalf("got %v %q (%s), want %v %q", d.Action, d.Message, d.Reason, tt.action, tt.message)
			}
			if d.Action == mfa.ActionAccept {
				checkNTKey(t, d, password)
			} else if d.MSCHAP != nil {
				t.Fatal("a reject carries an NT hash")
			}
			evs := f.store.Events()
			if got := results(evs); got != tt.event {
				t.Fatalf("events %s, want %s", got, tt.event)
			}
			ev := evs[0]
			if ev.Method != tt.method || ev.Trigger != tt.trigger || ev.Device != tt.device || ev.FrontDoor != tt.door || ev.TxID != d.TxID {
				t.Fatalf("event %+v: want method %q trigger %v device %q", ev, tt.method, tt.trigger, tt.device)
			}
			if password != "" && len(password) > 1 && strings.Contains(fmt.Sprintf("%+v %+v", evs, d), password) {
				t.Fatal("the passcode leaked into the event or decision")
			}
			if failures := f.store.User(strings.ToLower(tt.user)).Failures; (failures == 1) != tt.counts {
				t.Fatalf("%d failures counted, want counted: %v", failures, tt.counts)
			}
		})
	}
}

// TestMSCHAPv2Replay: a TOTP code is accepted once, over any front door.
func TestMSCHAPv2Replay(t *testing.T) {
	f := mschapFixture(t, mfa.Config{})
	c := code(t, f.phone, t0, 0)
	checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "bob", c)), c)
	for _, door := range []mfa.FrontDoor{mfa.FrontDoorNTLMAuth, mfa.FrontDoorREST} {
		d := f.decide(t, mschapRequest(t, door, "bob", c))
		if d.Action != mfa.ActionReject || d.Message != mfa.MsgCodeUsed || d.Reason != "OTP already used" {
			t.Fatalf("%s: replay got %+v", door, d)
		}
	}
	// And not over PAP either.
	if d := f.decide(t, mfa.Request{UserName: "bob", Passcode: mfa.Secret(c)}); d.Action != mfa.ActionReject {
		t.Fatalf("PAP replay got %+v", d)
	}
	// The next step's code still works.
	f.clock.Advance(30 * time.Second)
	next := code(t, f.phone, t0, 1)
	checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorREST, "bob", next)), next)
}

// TestMSCHAPv2SentCode: "s" sends a code; the next MS-CHAPv2 login with
// it succeeds, in the same transaction, once.
func TestMSCHAPv2SentCode(t *testing.T) {
	f := mschapFixture(t, mfa.Config{})
	d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
	if d.Action != mfa.ActionReject || len(d.State) != 0 {
		t.Fatalf("s: %+v", d)
	}
	msgs := f.notifier.Messages()
	if len(msgs) != 1 || msgs[0].To != "+447700900123" || msgs[0].Notifier != "sms" {
		t.Fatalf("notifications %+v", msgs)
	}
	sent := sentCode(t, f.notifier)

	// A wrong login first: counted against the code, which survives.
	if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "999999")); d.Action != mfa.ActionReject {
		t.Fatalf("wrong code: %+v", d)
	}
	ok := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent))
	checkNTKey(t, ok, sent)
	if ok.TxID != d.TxID {
		t.Fatalf("accept in transaction %s, the code was sent in %s", ok.TxID, d.TxID)
	}
	evs := f.store.Events()
	last := evs[len(evs)-1]
	if last.Result != mfa.ResultSuccess || last.Message != "sms code accepted" || last.Method != mfa.MethodSMS || last.Device != "mobile" || last.Trigger != mfa.TriggerCode {
		t.Fatalf("event %+v", last)
	}
	if strings.Contains(results(evs), sent) {
		t.Fatal("the code leaked into an event")
	}
	if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)); d.Action != mfa.ActionReject {
		t.Fatalf("code reused: %+v", d)
	}
	// A code sent for MS-CHAPv2 cannot be answered through PAP: it has no
	// State, and without one a code is not an OTP of dan's app.
	if d := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret(sent)}); d.Action == mfa.ActionAccept {
		t.Fatalf("PAP with the MS-CHAPv2 code: %+v", d)
	}
}

func TestMSCHAPv2SentCodeLimits(t *testing.T) {
	sendAndThen := func(t *testing.T, f *pushFixture, then func(sent string)) {
		t.Helper()
		f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
		then(sentCode(t, f.notifier))
	}
	t.Run("attempts run out", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		sendAndThen(t, f, func(sent string) {
			for range 3 { // codes.attempts defaults to 3
				f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "x"))
			}
			if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)); d.Action != mfa.ActionReject {
				t.Fatalf("code after 3 wrong logins: %+v", d)
			}
		})
	})
	t.Run("a new code replaces it", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		sendAndThen(t, f, func(sent string) {
			f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "g")) // a push trigger: the fallback code
			if got := len(f.notifier.Messages()); got != 2 {
				t.Fatalf("%d notifications, want 2", got)
			}
			newer := sentCode(t, f.notifier)
			if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)); sent != newer && d.Action != mfa.ActionReject {
				t.Fatalf("a replaced code still works: %+v", d)
			}
			checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", newer)), newer)
		})
	})
	t.Run("expired", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		sendAndThen(t, f, func(sent string) {
			f.clock.Advance(5*time.Minute + time.Second)
			if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)); d.Action != mfa.ActionReject {
				t.Fatalf("expired code: %+v", d)
			}
		})
	})
	t.Run("another RADIUS client", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		sendAndThen(t, f, func(sent string) {
			req := mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)
			req.NAS.ClientName, req.NAS.ClientIP = "wifi", "192.0.2.99"
			if d := f.decide(t, req); d.Action != mfa.ActionReject {
				t.Fatalf("code through another client: %+v", d)
			}
		})
	})
	t.Run("an OTP login drops it", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		sendAndThen(t, f, func(sent string) {
			app := totp("phone", secretB)
			checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", code(t, app, t0, 0))), code(t, app, t0, 0))
			if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", sent)); d.Action != mfa.ActionReject {
				t.Fatalf("code after an OTP login: %+v", d)
			}
		})
	})
	t.Run("rate limit", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		for range 3 {
			f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
		}
		d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
		if d.Action != mfa.ActionReject || d.Message != mfa.MsgRateLimited || len(f.notifier.Messages()) != 3 {
			t.Fatalf("fourth s: %+v, %d notifications", d, len(f.notifier.Messages()))
		}
	})
	t.Run("notifier down", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{})
		f.notifier.Err = fmt.Errorf("gateway unreachable")
		d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
		if d.Action != mfa.ActionReject || d.Message != mfa.MsgPushFailed {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("notifier down, fail open", func(t *testing.T) {
		f := mschapFixture(t, mfa.Config{Profiles: []mfa.Profile{{Name: "open", Clients: []string{"vpn"}, FailMode: mfa.FailOpen}}})
		f.notifier.Err = fmt.Errorf("gateway unreachable")
		// Accepted by policy: with the NT hash of what was typed, so that
		// rlm_mschap can complete.
		checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s")), "s")
	})
	t.Run("gateway refuses the number, fail open", func(t *testing.T) {
		// A refused message is not a notifier that is down: a user who
		// can set a bad number in the directory must not get in by it.
		f := mschapFixture(t, mfa.Config{Profiles: []mfa.Profile{{Name: "open", Clients: []string{"vpn"}, FailMode: mfa.FailOpen}}})
		f.notifier.FailedDetail = "gateway: 400 invalid number"
		d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "dan", "s"))
		if d.Action != mfa.ActionReject || !strings.Contains(d.Reason, "never fails open") {
			t.Fatalf("got %+v", d)
		}
	})
}

func TestMSCHAPv2Malformed(t *testing.T) {
	f := mschapFixture(t, mfa.Config{})
	t.Run("with a State", func(t *testing.T) {
		req := mschapRequest(t, mfa.FrontDoorREST, "bob", code(t, f.phone, t0, 0))
		req.State = []byte("0123456789abcdef")
		if d := f.decide(t, req); d.Action != mfa.ActionReject || d.MSCHAP != nil {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("zero response", func(t *testing.T) {
		req := mfa.Request{FrontDoor: mfa.FrontDoorNTLMAuth, UserName: "bob", MSCHAP: &mfa.MSCHAPv2{}}
		if d := f.decide(t, req); d.Action != mfa.ActionReject {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("does not print", func(t *testing.T) {
		req := mschapRequest(t, mfa.FrontDoorREST, "bob", "123456")
		for _, s := range []string{fmt.Sprint(req.MSCHAP), fmt.Sprintf("%+v", *req.MSCHAP), fmt.Sprintf("%#v", req.MSCHAP), fmt.Sprintf("%+v", req)} {
			if !strings.Contains(s, "MS-CHAPv2 response [redacted]") || strings.Contains(s, fmt.Sprint(req.MSCHAP.NTResponse[0])+" ") {
				t.Fatalf("MSCHAPv2 prints %q", s)
			}
		}
	})
}

func TestMSCHAPv2Lockout(t *testing.T) {
	f := mschapFixture(t, mfa.Config{Lockout: mfa.LockoutConfig{Failures: 3}})
	for i := range 3 {
		f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "bob", fmt.Sprint(100000+i)))
	}
	c := code(t, f.phone, t0, 0)
	if d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "bob", c)); d.Action != mfa.ActionReject || d.Message != mfa.MsgLocked {
		t.Fatalf("after 3 failures: %+v", d)
	}
}

// TestMSCHAPv2Push: over rlm_rest (serve, which can wait) a push trigger
// sends a push and waits for it whatever the flow; the Accept carries the
// trigger's NT hash so that rlm_mschap completes.
func TestMSCHAPv2Push(t *testing.T) {
	tests := []struct {
		name     string
		flow     mfa.PushFlow
		typed    string
		decision mfa.PushDecision
		action   mfa.Action
		message  string
	}{
		{"p approved", "", "p", mfa.PushDecision{Approve: true, By: "page"}, mfa.ActionAccept, ""},
		{"space approved, challenge flow configured", mfa.FlowChallenge, " ", mfa.PushDecision{Approve: true, By: "page"}, mfa.ActionAccept, ""},
		{"g approved", "", "g", mfa.PushDecision{Approve: true, By: "page"}, mfa.ActionAccept, ""},
		{"denied", "", "P", mfa.PushDecision{Fraud: true, By: "page"}, mfa.ActionReject, mfa.MsgPushDenied},
		{"a mistake: no fallback challenge over MS-CHAPv2", "", "p", mfa.PushDecision{By: "page"}, mfa.ActionReject, mfa.MsgFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: tt.flow}})
			f.answer(t, tt.decision)
			d := f.decide(t, mschapRequest(t, mfa.FrontDoorREST, "bob", tt.typed))
			if d.Action != tt.action || d.Message != tt.message || len(d.State) != 0 {
				t.Fatalf("got %v %q (%s), want %v %q", d.Action, d.Message, d.Reason, tt.action, tt.message)
			}
			if d.Action == mfa.ActionAccept {
				checkNTKey(t, d, tt.typed)
			} else if d.MSCHAP != nil {
				t.Fatal("a reject carries an NT hash")
			}
			ps := f.store.Pushes()
			if len(ps) != 1 || ps[0].Flow != mfa.FlowInline {
				t.Fatalf("pushes %+v: want one, inline", ps)
			}
			if ev := f.store.Events()[0]; ev.Method != mfa.MethodPush || ev.Trigger != mfa.TriggerOneChar && ev.Trigger != mfa.TriggerGrid {
				t.Fatalf("event %+v", ev)
			}
		})
	}
	t.Run("an OTP code still works", func(t *testing.T) {
		f := newPushFixture(t, mfa.Config{})
		c := code(t, f.phone, t0, 0)
		checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorREST, "bob", c)), c)
		if len(f.notifier.Messages()) != 0 {
			t.Fatal("a code sent a push")
		}
	})
	t.Run("ntlm-auth cannot wait", func(t *testing.T) {
		// radmfa ntlm-auth has a notifier for codes but no push waiter.
		f := newPushFixture(t, mfa.Config{})
		store, notifier := f.store, &mfatest.Notifier{}
		e, err := mfa.New(store, mfa.Config{Push: mfa.PushConfig{ApprovalURL: "https://mfa.example.com"}}, mfa.WithClock(f.clock.Now), mfa.WithNotifier(notifier))
		if err != nil {
			t.Fatal(err)
		}
		f.engine = e
		d := f.decide(t, mschapRequest(t, mfa.FrontDoorNTLMAuth, "bob", "p"))
		want := "push trigger over MS-CHAPv2 through ntlm-auth, which cannot wait for a push (push over MS-CHAPv2 needs rlm_rest)"
		if d.Action != mfa.ActionReject || d.Reason != want || len(notifier.Messages()) != 0 {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("push daemon down, fail open", func(t *testing.T) {
		f := newPushFixture(t, mfa.Config{Profiles: []mfa.Profile{{Name: "open", Clients: []string{"vpn"}, FailMode: mfa.FailOpen}}}, mfa.WithPushBackendDown())
		checkNTKey(t, f.decide(t, mschapRequest(t, mfa.FrontDoorREST, "bob", "p")), "p")
	})
}

// TestMSCHAPv2PolicyAccept: a policy that accepts without a second factor
// (here unknown_user = accept) cannot accept MS-CHAPv2, whose response
// radmfa then never checked: Reject, and a Failure event that says why.
func TestMSCHAPv2PolicyAccept(t *testing.T) {
	f := mschapFixture(t, mfa.Config{Profiles: []mfa.Profile{{Name: "rollout", Clients: []string{"vpn"}, UnknownUser: "accept"}}})
	d, err := f.engine.Decide(context.Background(), mschapRequest(t, mfa.FrontDoorREST, "newcomer", "anything"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != mfa.ActionReject || d.MSCHAP != nil || d.Message != mfa.MsgFailed {
		t.Fatalf("got %+v, want a reject", d)
	}
	evs := f.store.Events()
	if last := evs[len(evs)-1]; last.Result != mfa.ResultFailure || !strings.Contains(last.Message, "unknown_user = accept") ||
		!strings.Contains(last.Message, "MS-CHAPv2 cannot complete without the passcode") {
		t.Fatalf("event %+v", last)
	}
	// PAP from the same unknown user is still accepted by the policy.
	pap := mschapRequest(t, mfa.FrontDoorREST, "newcomer", "x")
	pap.MSCHAP, pap.Passcode = nil, mfa.Secret("123456")
	if d, err := f.engine.Decide(context.Background(), pap); err != nil || d.Action != mfa.ActionAccept {
		t.Fatalf("PAP: %+v %v", d, err)
	}
}
