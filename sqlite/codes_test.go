package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// TestCodesResyncBypassOnSQLite runs the issue-6 paths on the real store.
func TestCodesResyncBypassOnSQLite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	hotp := mfa.Device{Name: "fob", Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: testSecret, LastStep: -1}
	if err := s.CreateUser(ctx, "test", "dan", hotp); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDevice(ctx, "test", "dan", mfa.Device{Name: "mobile", Kind: mfa.DeviceSMS, Address: "+447700900123", Notifier: "sms"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	n := &recorder{}
	e, err := mfa.New(s, mfa.Config{Lockout: mfa.LockoutConfig{Failures: 3}}, mfa.WithClock(func() time.Time { return now }), mfa.WithNotifier(n))
	if err != nil {
		t.Fatal(err)
	}
	decide := func(pass string, state []byte, auth string) mfa.Decision {
		t.Helper()
		d, err := e.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "dan", Passcode: mfa.Secret(pass), State: state,
			Authenticator: []byte(auth), NAS: mfa.NAS{ClientIP: "192.0.2.1", ClientPort: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// SMS code round trip.
	ch := decide("s", nil, "")
	if ch.Action != mfa.ActionChallenge || ch.Message != "Enter the code sent to +44…23" {
		t.Fatalf("sms: %+v", ch)
	}
	if d := decide(n.last().Code.Reveal(), ch.State, ""); d.Action != mfa.ActionAccept {
		t.Fatalf("sms answer: %+v", d)
	}
	// HOTP: counter 0, then resync from counter 30.
	c0, _ := mfa.Code(hotp, 0)
	if d := decide(c0, nil, ""); d.Reason != "OTP accepted (counter 0)" {
		t.Fatalf("hotp: %+v", d)
	}
	c30, _ := mfa.Code(hotp, 30)
	c31, _ := mfa.Code(hotp, 31)
	ch = decide(c30, nil, "")
	if d := decide(c31, ch.State, ""); d.Reason != "token resynchronised (counter 31)" {
		t.Fatalf("resync: %+v (challenge %+v)", d, ch)
	}
	u, _ := s.User(ctx, "dan")
	if u.Devices[0].LastStep != 31 {
		t.Fatalf("last step %d", u.Devices[0].LastStep)
	}
	// A retransmitted wrong code counts once; three packets lock.
	for _, auth := range []string{"packet-one-aaaaa", "packet-one-aaaaa", "packet-two-bbbbb"} {
		decide("000000", nil, auth)
	}
	if u, _ := s.User(ctx, "dan"); !u.LockedUntil.IsZero() || u.Failures != 2 {
		t.Fatalf("after two distinct failures: failures %d locked %v", u.Failures, u.LockedUntil)
	}
	// Bypass window and one-time code.
	if err := s.SetBypass(ctx, "helpdesk", "dan", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := decide("", nil, ""); d.Action != mfa.ActionAccept {
		t.Fatalf("bypass: %+v", d)
	}
	s.SetBypass(ctx, "helpdesk", "dan", time.Time{})
	if err := s.SetBypassCode(ctx, "helpdesk", "dan", mfa.BypassCodeHash("24681357"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := decide("24681357", nil, ""); d.Reason != "one-time bypass code used" {
		t.Fatalf("bypass code: %+v", d)
	}
	if d := decide("24681357", nil, ""); d.Action == mfa.ActionAccept {
		t.Fatalf("bypass code reused: %+v", d)
	}
}
