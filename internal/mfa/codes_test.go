package mfa_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

// codeFixture: dan has an authenticator app, an SMS number and an e-mail
// address; no push.
func codeFixture(t *testing.T, cfg mfa.Config) *pushFixture {
	t.Helper()
	f := &pushFixture{store: mfatest.NewStore(), clock: mfatest.NewClock(t0), notifier: &mfatest.Notifier{}, phone: totp("phone", secretA)}
	f.store.AddUser("dan", false, f.phone,
		mfa.Device{Name: "mobile", Kind: mfa.DeviceSMS, Address: "+447700900123", Notifier: "sms"},
		mfa.Device{Name: "mail", Kind: mfa.DeviceEmail, Address: "dan@example.com", Notifier: "smtp"})
	e, err := mfa.New(f.store, cfg, mfa.WithClock(f.clock.Now), mfa.WithNotifier(f.notifier))
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	return f
}

func sentCode(t *testing.T, n *mfatest.Notifier) string {
	t.Helper()
	msgs := n.Messages()
	m := msgs[len(msgs)-1]
	if m.Kind != mfa.NotifyCode || len(m.Code) == 0 || !strings.Contains(m.Text, m.Code.Reveal()) {
		t.Fatalf("not a code notification: %+v", m)
	}
	return m.Code.Reveal()
}

func TestSentCodes(t *testing.T) {
	tests := []struct {
		name, pass, prompt, notifier, to string
		method                           mfa.Method
	}{
		{"s sends an SMS", "s", "Enter the code sent to +44…23", "sms", "+447700900123", mfa.MethodSMS},
		{"E sends an e-mail", "E", "Enter the code sent to d…@example.com", "smtp", "dan@example.com", mfa.MethodEmail},
		{"empty without push: SMS first", "", "Enter the code sent to +44…23", "sms", "+447700900123", mfa.MethodSMS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := codeFixture(t, mfa.Config{})
			ch := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret(tt.pass)})
			if ch.Action != mfa.ActionChallenge || ch.Message != tt.prompt {
				t.Fatalf("got %v %q", ch.Action, ch.Message)
			}
			m := f.notifier.Messages()[0]
			if m.Notifier != tt.notifier || m.To != tt.to {
				t.Fatalf("sent %+v", m)
			}
			code := sentCode(t, f.notifier)
			if len(code) != 6 {
				t.Fatalf("code %q: want 6 digits", code)
			}
			ok := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret(code), State: ch.State})
			if ok.Action != mfa.ActionAccept || ok.TxID != ch.TxID {
				t.Fatalf("answer: %+v", ok)
			}
			evs := f.store.Events()
			if evs[0].Method != tt.method || evs[1].Result != mfa.ResultSuccess || evs[1].Method != tt.method || strings.Contains(results(evs), code) {
				t.Fatalf("events %s", results(evs))
			}
			// Single use.
			if again := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret(code), State: ch.State}); again.Action != mfa.ActionReject {
				t.Fatalf("reused: %+v", again)
			}
		})
	}
}

func TestSentCodeWrongAnswers(t *testing.T) {
	f := codeFixture(t, mfa.Config{})
	ch := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")})
	for i := 1; i <= 3; i++ {
		d := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("000000"), State: ch.State})
		if i < 3 {
			if d.Action != mfa.ActionChallenge || !strings.HasPrefix(d.Message, "Wrong code.") {
				t.Fatalf("wrong answer %d: %+v", i, d)
			}
			ch = d
			continue
		}
		if d.Action != mfa.ActionReject {
			t.Fatalf("third wrong answer: %+v", d)
		}
	}
}

func TestSentCodeExpiresAndRateLimit(t *testing.T) {
	f := codeFixture(t, mfa.Config{})
	ch := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")})
	code := sentCode(t, f.notifier)
	f.clock.Advance(5*time.Minute + time.Second)
	if d := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret(code), State: ch.State}); d.Reason != "challenge expired" {
		t.Fatalf("expired code: %+v", d)
	}
	f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")})
	f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")})
	if d := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")}); d.Message != mfa.MsgRateLimited {
		t.Fatalf("4th code in 10 minutes: %+v", d)
	}
}

func TestSentCodeNotifierDown(t *testing.T) {
	f := codeFixture(t, mfa.Config{})
	f.notifier.Err = context.DeadlineExceeded
	d := f.decide(t, mfa.Request{UserName: "dan", Passcode: mfa.Secret("s")})
	if d.Action != mfa.ActionReject || !strings.Contains(d.Reason, "sms code could not be delivered") {
		t.Fatalf("got %+v", d)
	}
}

func TestResync(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	// The phone runs 4 steps (2 minutes) fast.
	ch := f.decide(t, "bob", code(t, f.phone, t0, 4), nil)
	if ch.Action != mfa.ActionChallenge || ch.Message != mfa.MsgResync {
		t.Fatalf("outer window: %+v", ch)
	}
	if ev := f.lastEvent(t); ev.Result != mfa.ResultOuterWindow {
		t.Fatalf("event %v", ev.Result)
	}
	bad := f.decide(t, "bob", code(t, f.phone, t0, 6), ch.State)
	if bad.Action != mfa.ActionReject {
		t.Fatalf("a code that does not follow: %+v", bad)
	}
	ch = f.decide(t, "bob", code(t, f.phone, t0, 3), nil)
	ok := f.decide(t, "bob", code(t, f.phone, t0, 4), ch.State)
	if ok.Action != mfa.ActionAccept || ok.Reason != "token resynchronised (drift +4 steps)" {
		t.Fatalf("resync: %+v", ok)
	}
	// From now on the drifted codes work directly.
	f.clock.Advance(30 * time.Second)
	if d := f.decide(t, "bob", code(t, f.phone, f.clock.Now(), 4), nil); d.Action != mfa.ActionAccept {
		t.Fatalf("after resync: %+v", d)
	}
}

func TestHOTP(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	token := mfa.Device{Name: "fob", Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: mfa.Secret("12345678901234567890")}
	f.store.AddUser("erin", false, token)
	// RFC 4226 Appendix D codes for counters 0..9.
	codes := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	steps := []struct {
		name, code string
		action     mfa.Action
		reason     string
	}{
		{"counter 0", codes[0], mfa.ActionAccept, "OTP accepted (counter 0)"},
		{"replay", codes[0], mfa.ActionReject, "OTP already used"},
		{"skip ahead within the look-ahead", codes[5], mfa.ActionAccept, "OTP accepted (counter 5)"},
		{"an older code", codes[3], mfa.ActionReject, "OTP already used"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			d := f.decide(t, "erin", s.code, nil)
			if d.Action != s.action || d.Reason != s.reason {
				t.Fatalf("got %v %q", d.Action, d.Reason)
			}
		})
	}
	t.Run("outer window", func(t *testing.T) {
		far := mfa.Device{Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: token.Secret}
		c20, _ := mfa.Code(far, 20)
		c21, _ := mfa.Code(far, 21)
		ch := f.decide(t, "erin", c20, nil)
		if ch.Action != mfa.ActionChallenge || ch.Message != mfa.MsgResync {
			t.Fatalf("counter 20: %+v", ch)
		}
		ok := f.decide(t, "erin", c21, ch.State)
		if ok.Action != mfa.ActionAccept || ok.Reason != "token resynchronised (counter 21)" {
			t.Fatalf("resync: %+v", ok)
		}
	})
}

func TestAdminResync(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	dev, drift, err := f.engine.Resync(context.Background(), "BOB", code(t, f.phone, t0, 50), code(t, f.phone, t0, 51))
	if err != nil || dev != "phone" || drift != 51 {
		t.Fatalf("got %q %d %v", dev, drift, err)
	}
	if _, _, err := f.engine.Resync(context.Background(), "bob", "111111", "222222"); err == nil {
		t.Fatal("unrelated codes accepted")
	}
}

func TestBypass(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	u := f.store.User("bob")
	u.BypassUntil = t0.Add(time.Hour)
	f.store.SetUser(u)
	d := f.decide(t, "bob", "anything", nil)
	if d.Action != mfa.ActionAccept || !strings.HasPrefix(d.Reason, "help-desk bypass until") || f.lastEvent(t).Method != mfa.MethodBypass {
		t.Fatalf("window: %+v", d)
	}
	f.clock.Advance(time.Hour)
	if d := f.decide(t, "bob", "anything", nil); d.Action == mfa.ActionAccept {
		t.Fatalf("after the window: %+v", d)
	}
	u = f.store.User("bob")
	u.BypassCode, u.BypassCodeExpires = mfa.BypassCodeHash("13572468"), f.clock.Now().Add(24*time.Hour)
	f.store.SetUser(u)
	if d := f.decide(t, "bob", "13572468", nil); d.Reason != "one-time bypass code used" {
		t.Fatalf("code: %+v", d)
	}
	if d := f.decide(t, "bob", "13572468", nil); d.Action == mfa.ActionAccept {
		t.Fatalf("code twice: %+v", d)
	}
}

func TestUnknownUserAndProfiles(t *testing.T) {
	open := mfa.Profile{Name: "rollout", Clients: []string{"10.9.0.0/16"}, UnknownUser: "accept",
		Users: &mfa.UserNames{StripRealm: true}}
	f := newFixture(t, mfa.Config{Profiles: []mfa.Profile{open}})
	req := func(user, client, nasID string) mfa.Decision {
		d, err := f.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: user,
			Passcode: mfa.Secret("000000"), NAS: mfa.NAS{ClientIP: client, Identifier: nasID}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := req("newcomer", "10.9.1.1", ""); d.Action != mfa.ActionAccept || !strings.Contains(d.Reason, "unknown_user = accept") {
		t.Fatalf("unknown user on the roll-out profile: %+v", d)
	}
	// A client outside the profile cannot pick it by sending a
	// NAS-Identifier (or NAS-IP-Address) of its own.
	if d := req("newcomer", "192.0.2.7", "rollout"); d.Action != mfa.ActionReject || d.Reason != "unknown user" {
		t.Fatalf("spoofed NAS-Identifier: %+v", d)
	}
	// The profile's name rules: bob@example.com is bob.
	if d := req("bob@example.com", "10.9.1.1", ""); d.Reason != "wrong OTP" {
		t.Fatalf("realm stripped by the profile: %+v", d)
	}
}

func TestRetransmittedFailureCountsOnce(t *testing.T) {
	f := newFixture(t, mfa.Config{Lockout: mfa.LockoutConfig{Failures: 2}})
	req := mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob", Passcode: mfa.Secret("000000"), Authenticator: []byte("0123456789abcdef"),
		NAS: mfa.NAS{ClientIP: "192.0.2.1", ClientPort: 4000}}
	for i := 0; i < 3; i++ {
		f.engine.Decide(context.Background(), req)
	}
	if u := f.store.User("bob"); !u.LockedUntil.IsZero() || u.Failures != 1 {
		t.Fatalf("three copies of one packet: %+v", u)
	}
	req.Authenticator = []byte("fedcba9876543210")
	f.engine.Decide(context.Background(), req)
	if u := f.store.User("bob"); u.LockedUntil.IsZero() {
		t.Fatalf("a second packet must count: %+v", u)
	}
}
