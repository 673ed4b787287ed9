package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 15, 0, time.UTC)

var (
	secretA = mfa.Secret("12345678901234567890")
	secretB = mfa.Secret("abcdefghijabcdefghij")
)

func totp(name string, secret mfa.Secret) mfa.Device {
	return mfa.Device{Name: name, Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: secret}
}

// code returns the device's code at t shifted by steps.
func code(t *testing.T, d mfa.Device, at time.Time, steps int64) string {
	t.Helper()
	c, err := mfa.Code(d, mfa.Step(d, at)+steps)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fixture struct {
	engine *mfa.Engine
	store  *mfatest.Store
	clock  *mfatest.Clock
	phone  mfa.Device
}

func newFixture(t *testing.T, cfg mfa.Config) *fixture {
	t.Helper()
	f := &fixture{store: mfatest.NewStore(), clock: mfatest.NewClock(t0), phone: totp("phone", secretA)}
	f.store.AddUser("bob", false, f.phone)
	laptop := totp("laptop", secretB)
	laptop.Digits, laptop.Algorithm = 8, "SHA256"
	old := totp("old", mfa.Secret("zzzzzzzzzzzzzzzzzzzz"))
	old.Disabled = true
	f.store.AddUser("alice", false, laptop, old)
	f.store.AddUser("carol", true, totp("phone", secretA))
	f.store.AddUser("dave", false, old)
	cfg.Node = "node1"
	e, err := mfa.New(f.store, cfg, mfa.WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	return f
}

func (f *fixture) decide(t *testing.T, user, pass string, state []byte) mfa.Decision {
	t.Helper()
	d, err := f.engine.Decide(context.Background(), mfa.Request{
		FrontDoor: mfa.FrontDoorExec,
		UserName:  user,
		Passcode:  mfa.Secret(pass),
		State:     state,
		NAS:       mfa.NAS{ClientName: "vpn", ClientIP: "127.0.0.1", Identifier: "gw1", CallingStationID: "203.0.113.9"},
	})
	if err != nil {
		t.Fatalf("Decide(%q, %q): %v", user, pass, err)
	}
	return d
}

func (f *fixture) lastEvent(t *testing.T) mfa.Event {
	t.Helper()
	ev := f.store.Events()
	if len(ev) == 0 {
		t.Fatal("no event recorded")
	}
	return ev[len(ev)-1]
}

func TestDecideOTP(t *testing.T) {
	laptop := totp("laptop", secretB)
	laptop.Digits, laptop.Algorithm = 8, "SHA256"
	phone := totp("phone", secretA)
	tests := []struct {
		name    string
		user    string
		pass    func(t *testing.T) string
		action  mfa.Action
		result  mfa.Result
		message string
		device  string
	}{
		{"fresh code", "bob", func(t *testing.T) string { return code(t, phone, t0, 0) }, mfa.ActionAccept, mfa.ResultSuccess, "OTP accepted", "phone"},
		{"previous step in window", "bob", func(t *testing.T) string { return code(t, phone, t0, -1) }, mfa.ActionAccept, mfa.ResultSuccess, "OTP accepted (-1 step)", "phone"},
		{"next step in window", "bob", func(t *testing.T) string { return code(t, phone, t0, 1) }, mfa.ActionAccept, mfa.ResultSuccess, "OTP accepted (+1 step)", "phone"},
		{"two steps old: resync", "bob", func(t *testing.T) string { return code(t, phone, t0, -2) }, mfa.ActionChallenge, mfa.ResultOuterWindow, "code -2 steps away: enter the next code to resynchronise", "phone"},
		{"beyond the outer window", "bob", func(t *testing.T) string { return code(t, phone, t0, -11) }, mfa.ActionReject, mfa.ResultFailure, "wrong OTP", ""},
		{"upper-case user name", "BOB", func(t *testing.T) string { return code(t, phone, t0, 0) }, mfa.ActionAccept, mfa.ResultSuccess, "OTP accepted", "phone"},
		{"wrong code", "bob", func(*testing.T) string { return "000000" }, mfa.ActionReject, mfa.ResultFailure, "wrong OTP", ""},
		{"seven digits", "bob", func(*testing.T) string { return "1234567" }, mfa.ActionReject, mfa.ResultFailure, "invalid passcode: no enabled device has 7 digits", ""},
		{"password not code", "bob", func(*testing.T) string { return "hunter2" }, mfa.ActionReject, mfa.ResultFailure, "invalid passcode", ""},
		{"8-digit sha256 device", "alice", func(t *testing.T) string { return code(t, laptop, t0, 0) }, mfa.ActionAccept, mfa.ResultSuccess, "OTP accepted", "laptop"},
		{"6 digits for 8-digit user", "alice", func(*testing.T) string { return "123456" }, mfa.ActionReject, mfa.ResultFailure, "invalid passcode: no enabled device has 6 digits", ""},
		{"disabled device", "alice", func(t *testing.T) string { return code(t, totp("old", mfa.Secret("zzzzzzzzzzzzzzzzzzzz")), t0, 0) }, mfa.ActionReject, mfa.ResultFailure, "invalid passcode: no enabled device has 6 digits", ""},
		{"unknown user", "mallory", func(t *testing.T) string { return code(t, phone, t0, 0) }, mfa.ActionReject, mfa.ResultFailure, "unknown user", ""},
		{"disabled user", "carol", func(t *testing.T) string { return code(t, phone, t0, 0) }, mfa.ActionReject, mfa.ResultFailure, "user disabled", ""},
		{"no enabled device", "dave", func(*testing.T) string { return "123456" }, mfa.ActionReject, mfa.ResultFailure, "user has no enabled device", ""},
		{"invalid user name", "bob\nAuth-Type := Accept", func(t *testing.T) string { return code(t, phone, t0, 0) }, mfa.ActionReject, mfa.ResultFailure, "invalid user name", ""},
		{"passcode too long", "bob", func(*testing.T) string { return strings.Repeat("1", 254) }, mfa.ActionReject, mfa.ResultFailure, "passcode longer than 253 bytes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, mfa.Config{})
			pass := tt.pass(t)
			d := f.decide(t, tt.user, pass, nil)
			if d.Action != tt.action {
				t.Fatalf("action = %v (%s), want %v", d.Action, d.Reason, tt.action)
			}
			ev := f.lastEvent(t)
			if ev.Result != tt.result || ev.Message != tt.message || ev.Device != tt.device {
				t.Fatalf("event = %v %q device %q, want %v %q device %q", ev.Result, ev.Message, ev.Device, tt.result, tt.message, tt.device)
			}
			if ev.TxID != d.TxID || len(d.TxID) != 16 {
				t.Fatalf("event tx %q, decision tx %q", ev.TxID, d.TxID)
			}
			if tt.action == mfa.ActionReject && d.Message == "" {
				t.Fatal("reject without a Reply-Message")
			}
			assertNoSecret(t, ev, pass)
		})
	}
}

// assertNoSecret fails if any string field of the event contains the passcode.
func assertNoSecret(t *testing.T, ev mfa.Event, pass string) {
	t.Helper()
	if len(pass) < 2 {
		return
	}
	v := reflect.ValueOf(ev)
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Interface().(string); ok && strings.Contains(s, pass) {
			t.Fatalf("event field %s contains the passcode: %q", v.Type().Field(i).Name, s)
		}
	}
}

func TestDecideReplay(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	now := code(t, f.phone, t0, 0)
	if d := f.decide(t, "bob", now, nil); d.Action != mfa.ActionAccept {
		t.Fatalf("first use: %v %s", d.Action, d.Reason)
	}
	t.Run("same code again", func(t *testing.T) {
		d := f.decide(t, "bob", now, nil)
		if d.Action != mfa.ActionReject || d.Reason != "OTP already used" || d.Message != mfa.MsgCodeUsed {
			t.Fatalf("got %v %q %q", d.Action, d.Reason, d.Message)
		}
	})
	t.Run("same code other spelling of the user", func(t *testing.T) {
		if d := f.decide(t, " Bob", now, nil); d.Reason != "OTP already used" {
			t.Fatalf("got %v %q", d.Action, d.Reason)
		}
	})
	t.Run("older code in window", func(t *testing.T) {
		if d := f.decide(t, "bob", code(t, f.phone, t0, -1), nil); d.Reason != "OTP already used" {
			t.Fatalf("got %v %q", d.Action, d.Reason)
		}
	})
	t.Run("next code", func(t *testing.T) {
		f.clock.Advance(30 * time.Second)
		if d := f.decide(t, "bob", code(t, f.phone, f.clock.Now(), 0), nil); d.Action != mfa.ActionAccept {
			t.Fatalf("got %v %q", d.Action, d.Reason)
		}
	})
}

func TestDecideWindowConfig(t *testing.T) {
	zero, three := 0, 3
	tests := []struct {
		name   string
		window *int
		offset int64
		accept bool
	}{
		{"default accepts +1", nil, 1, true},
		{"default refuses +2", nil, 2, false},
		{"window 0 refuses -1", &zero, -1, false},
		{"window 0 accepts now", &zero, 0, true},
		{"window 3 accepts -3", &three, -3, true},
		{"window 3 refuses +4", &three, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, mfa.Config{OTP: mfa.OTPConfig{Window: tt.window}})
			d := f.decide(t, "bob", code(t, f.phone, t0, tt.offset), nil)
			if (d.Action == mfa.ActionAccept) != tt.accept {
				t.Fatalf("got %v %q, want accept=%v", d.Action, d.Reason, tt.accept)
			}
		})
	}
}

func TestDecideTriggers(t *testing.T) {
	tests := []struct {
		name    string
		pass    string
		trigger mfa.Trigger
	}{
		{"empty", "", mfa.TriggerEmpty},
		{"p", "p", mfa.TriggerOneChar},
		{"space", " ", mfa.TriggerOneChar},
		{"s without sms", "s", mfa.TriggerSMS},
		{"E without email", "E", mfa.TriggerEmail},
		{"g without grid", "g", mfa.TriggerGrid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, mfa.Config{})
			d := f.decide(t, "bob", tt.pass, nil)
			if d.Action != mfa.ActionChallenge || d.Message != mfa.MsgEnterAppCode || len(d.State) != 16 {
				t.Fatalf("got %v %q state %x", d.Action, d.Message, d.State)
			}
			ev := f.lastEvent(t)
			if ev.Result != mfa.ResultChallenge || ev.Trigger != tt.trigger || ev.Method != mfa.MethodTOTP {
				t.Fatalf("event %v trigger %v method %v", ev.Result, ev.Trigger, ev.Method)
			}
		})
	}
}

func TestDecideChallengeRoundTrip(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	ch := f.decide(t, "bob", "", nil)
	if ch.Action != mfa.ActionChallenge {
		t.Fatalf("got %v", ch.Action)
	}
	f.clock.Advance(20 * time.Second)
	d := f.decide(t, "bob", code(t, f.phone, f.clock.Now(), 0), ch.State)
	if d.Action != mfa.ActionAccept {
		t.Fatalf("answer: %v %q", d.Action, d.Reason)
	}
	if d.TxID != ch.TxID {
		t.Fatalf("answer tx %q, challenge tx %q: want the same transaction", d.TxID, ch.TxID)
	}
	if n := f.store.Challenges(); n != 0 {
		t.Fatalf("%d challenges left after the answer", n)
	}
	// The State is single-use.
	f.clock.Advance(30 * time.Second)
	again := f.decide(t, "bob", code(t, f.phone, f.clock.Now(), 0), ch.State)
	if again.Action != mfa.ActionReject || !strings.HasPrefix(again.Reason, "unknown State") {
		t.Fatalf("reused State: %v %q", again.Action, again.Reason)
	}
}

func TestDecideChallengeBadAnswers(t *testing.T) {
	tests := []struct {
		name   string
		user   string
		pass   func(t *testing.T, f *fixture) string
		state  func(st []byte) []byte
		wait   time.Duration
		client string
		reason string
	}{
		{"never issued", "bob", validNow, func([]byte) []byte { return []byte("0123456789abcdef") }, 0, "", "unknown State: never issued, already used or removed"},
		{"other user", "alice", validNow, same, 0, "", "State was issued to another user"},
		{"expired", "bob", validNow, same, 5*time.Minute + time.Second, "", "challenge expired"},
		{"other client", "bob", validNow, same, 0, "wifi", "State answered through a different RADIUS client"},
		{"empty answer", "bob", func(*testing.T, *fixture) string { return "" }, same, 0, "", "challenge answered without a code"},
		{"trigger answer", "bob", func(*testing.T, *fixture) string { return "p" }, same, 0, "", "challenge answer is not a code"},
		{"wrong code", "bob", func(*testing.T, *fixture) string { return "999999" }, same, 0, "", "wrong OTP"},
		{"oversized State", "bob", validNow, func([]byte) []byte { return bytes.Repeat([]byte{1}, 254) }, 0, "", "State longer than 253 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, mfa.Config{})
			ch := f.decide(t, "bob", "", nil)
			f.clock.Advance(tt.wait)
			req := mfa.Request{
				FrontDoor: mfa.FrontDoorExec,
				UserName:  tt.user,
				Passcode:  mfa.Secret(tt.pass(t, f)),
				State:     tt.state(ch.State),
				NAS:       mfa.NAS{ClientName: "vpn"},
			}
			if tt.client != "" {
				req.NAS.ClientName = tt.client
			}
			d, err := f.engine.Decide(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != mfa.ActionReject || d.Reason != tt.reason {
				t.Fatalf("got %v %q, want reject %q", d.Action, d.Reason, tt.reason)
			}
			if ev := f.lastEvent(t); ev.Result != mfa.ResultFailure || ev.Message != tt.reason {
				t.Fatalf("event %v %q", ev.Result, ev.Message)
			}
		})
	}
}

func validNow(t *testing.T, f *fixture) string { return code(t, f.phone, f.clock.Now(), 0) }
func same(s []byte) []byte                     { return s }

func TestDecideStoreFailureKeepsNothing(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	c := code(t, f.phone, t0, 0)
	f.store.FailNext = errors.New("disk I/O error")
	d, err := f.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorExec, UserName: "bob", Passcode: mfa.Secret(c)})
	if err == nil || d.Action != mfa.ActionInvalid || d.TxID == "" {
		t.Fatalf("got %v, %v; want an error, no action and a tx id", d, err)
	}
	if n := len(f.store.Events()); n != 0 {
		t.Fatalf("%d events kept from a failed transaction", n)
	}
	// The step was not consumed: the same code still works.
	if d := f.decide(t, "bob", c, nil); d.Action != mfa.ActionAccept {
		t.Fatalf("after failure: %v %q", d.Action, d.Reason)
	}
	if err := f.engine.RecordError(context.Background(), mfa.Request{UserName: "BOB", FrontDoor: mfa.FrontDoorExec}, "abc", "database is locked"); err != nil {
		t.Fatal(err)
	}
	if ev := f.lastEvent(t); ev.Result != mfa.ResultFailure || ev.Message != "could not decide: database is locked" || ev.User != "bob" || ev.TxID != "abc" {
		t.Fatalf("RecordError event: %+v", ev)
	}
}

func TestDecideCanceled(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.engine.Decide(ctx, mfa.Request{UserName: "bob"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestDecideEventContext(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	f.decide(t, "bob", code(t, f.phone, t0, 0), nil)
	ev := f.lastEvent(t)
	want := mfa.Event{
		Time: t0, TxID: ev.TxID, User: "bob", Result: mfa.ResultSuccess, Method: mfa.MethodTOTP,
		Trigger: mfa.TriggerCode, Message: "OTP accepted", FrontDoor: mfa.FrontDoorExec, Node: "node1",
		Device: "phone", NASIdentifier: "gw1", CallingStationID: "203.0.113.9", Client: "vpn", Resource: "gw1",
	}
	if ev != want {
		t.Fatalf("event\n got %+v\nwant %+v", ev, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	big := 11
	for name, cfg := range map[string]mfa.Config{
		"window 11":          {OTP: mfa.OTPConfig{Window: &big}},
		"challenge 1s":       {Challenge: mfa.ChallengeConfig{Timeout: mfa.Duration(time.Second)}},
		"challenge two days": {Challenge: mfa.ChallengeConfig{Timeout: mfa.Duration(48 * time.Hour)}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := mfa.New(mfatest.NewStore(), cfg); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"5m", 5 * time.Minute, true},
		{"365d", 365 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"1.5d", 0, false},
		{"-3d", 0, false},
		{"d", 0, false},
		{"yesterdayish", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			got, err := mfa.ParseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("got %v, %v; want %v ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	d, err := f.engine.Refuse(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorExec, UserName: "bob\xff"}, "malformed request: STATE is not hex")
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != mfa.ActionReject || d.Message != mfa.MsgFailed {
		t.Fatalf("got %+v", d)
	}
	ev := f.lastEvent(t)
	if ev.Result != mfa.ResultFailure || ev.User != `bob\xff` || ev.Message != "malformed request: STATE is not hex" || ev.TxID != d.TxID {
		t.Fatalf("event %+v", ev)
	}
}
