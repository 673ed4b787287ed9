package mfa_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

// pushFixture is an engine with push configured: bob has a phone app
// (TOTP) and a push device.
type pushFixture struct {
	engine   *mfa.Engine
	store    *mfatest.Store
	clock    *mfatest.Clock
	notifier *mfatest.Notifier
	phone    mfa.Device
}

func newPushFixture(t *testing.T, cfg mfa.Config, opts ...mfa.Option) *pushFixture {
	t.Helper()
	f := &pushFixture{store: mfatest.NewStore(), clock: mfatest.NewClock(t0), notifier: &mfatest.Notifier{}, phone: totp("phone", secretA)}
	f.store.AddUser("bob", false, f.phone, mfa.Device{Name: "app", Kind: mfa.DevicePush, Address: "bob-topic"})
	f.store.AddUser("carol", false, totp("phone", secretB)) // no push device
	if cfg.Push.ApprovalURL == "" {
		cfg.Push.ApprovalURL = "https://mfa.example.com"
	}
	cfg.Push.Organisation = "Example Corp"
	cfg.Push.OperatorAlert = "ops@example.com"
	broker := mfa.NewBroker(f.store.PushOutcome)
	opts = append([]mfa.Option{mfa.WithClock(f.clock.Now), mfa.WithNotifier(f.notifier), mfa.WithPushWaiter(broker)}, opts...)
	e, err := mfa.New(f.store, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	return f
}

// token extracts the approval token from a push notification.
func token(t *testing.T, n mfa.Notification) string {
	t.Helper()
	if n.Kind != mfa.NotifyPush || n.Push == nil {
		t.Fatalf("not a push: %+v", n)
	}
	u := n.Push.ApprovalURL.Reveal()
	i := strings.LastIndex(u, "/approve/")
	if i < 0 {
		t.Fatalf("approval URL %q", u)
	}
	return u[i+len("/approve/"):]
}

// answer makes the notifier answer every push it delivers.
func (f *pushFixture) answer(t *testing.T, d mfa.PushDecision) {
	f.notifier.OnNotify = func(n mfa.Notification) {
		if n.Kind != mfa.NotifyPush {
			return
		}
		if _, err := f.engine.DecidePush(context.Background(), token(t, n), d); err != nil {
			t.Errorf("DecidePush: %v", err)
		}
	}
}

func (f *pushFixture) decide(t *testing.T, req mfa.Request) mfa.Decision {
	t.Helper()
	if req.FrontDoor == 0 {
		req.FrontDoor = mfa.FrontDoorREST
	}
	if req.NAS.ClientName == "" {
		req.NAS = mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1000, Identifier: "gw1", CallingStationID: "203.0.113.9"}
	}
	d, err := f.engine.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func results(evs []mfa.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Result.String()+":"+e.Message)
	}
	return strings.Join(s, " | ")
}

func TestPushInline(t *testing.T) {
	tests := []struct {
		name     string
		decision mfa.PushDecision
		action   mfa.Action
		message  string
		events   string
		outcome  mfa.PushOutcome
		alerts   int
	}{
		{"approve", mfa.PushDecision{Approve: true, By: "page"}, mfa.ActionAccept, "",
			"Challenge:push sent (inline flow) | Success:push approved (0.0 s)", mfa.PushApproved, 0},
		{"it wasn't me", mfa.PushDecision{Fraud: true, By: "page"}, mfa.ActionReject, mfa.MsgPushDenied,
			"Challenge:push sent (inline flow) | Failure:push rejected by user: it wasn't me", mfa.PushDeniedFraud, 2},
		{"I made a mistake", mfa.PushDecision{By: "page"}, mfa.ActionChallenge, mfa.MsgFallback,
			"Challenge:push sent (inline flow)", mfa.PushDeniedOops, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture(t, mfa.Config{})
			f.answer(t, tt.decision)
			d := f.decide(t, mfa.Request{UserName: "bob", Passcode: mfa.Secret("")})
			if d.Action != tt.action || d.Message != tt.message {
				t.Fatalf("got %v %q (%s), want %v %q", d.Action, d.Message, d.Reason, tt.action, tt.message)
			}
			if got := results(f.store.Events()); got != tt.events {
				t.Fatalf("events\n got %s\nwant %s", got, tt.events)
			}
			ps := f.store.Pushes()
			if len(ps) != 1 || ps[0].Outcome != tt.outcome {
				t.Fatalf("pushes %+v", ps)
			}
			msgs := f.notifier.Messages()
			if len(msgs) != 1+tt.alerts {
				t.Fatalf("%d notifications, want %d", len(msgs), 1+tt.alerts)
			}
			push := msgs[0]
			if push.To != "bob-topic" || push.Push.Resource != "gw1" || push.Push.ClientIP != "203.0.113.9" || push.Push.Organisation != "Example Corp" {
				t.Fatalf("push notification %+v %+v", push, push.Push)
			}
			if tt.alerts > 0 && (msgs[1].Kind != mfa.NotifyAlert || msgs[1].To != "bob-topic" || msgs[2].To != "ops@example.com") {
				t.Fatalf("alerts %+v", msgs[1:])
			}
			evs := f.store.Events()
			if evs[0].Method != mfa.MethodPush || evs[0].Device != "app" || evs[0].TxID != d.TxID {
				t.Fatalf("challenge event %+v", evs[0])
			}
		})
	}
}

func TestPushTimeoutFallback(t *testing.T) {
	f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Timeout: mfa.Duration(5 * time.Second)}})
	// Nobody answers: the 5 s wait ends, and the user is offered the
	// app's code (seed 002), with no event after the Challenge (seed 003).
	start := time.Now()
	d := f.decide(t, mfa.Request{UserName: "bob", Passcode: mfa.Secret("p")})
	if d.Action != mfa.ActionChallenge || d.Message != mfa.MsgFallback || len(d.State) == 0 {
		t.Fatalf("got %+v", d)
	}
	if time.Since(start) < 4*time.Second {
		t.Fatal("did not wait for the push")
	}
	if got := results(f.store.Events()); got != "Challenge:push sent (inline flow)" {
		t.Fatalf("events %s", got)
	}
	if ps := f.store.Pushes(); ps[0].Outcome != mfa.PushExpired {
		t.Fatalf("push outcome %s", ps[0].Outcome)
	}
	// The code from the app completes the login, in the same transaction.
	ok := f.decide(t, mfa.Request{UserName: "bob", Passcode: mfa.Secret(code(t, f.phone, t0, 0)), State: d.State})
	if ok.Action != mfa.ActionAccept || ok.TxID != d.TxID {
		t.Fatalf("code after fallback: %+v", ok)
	}
}

func TestPushFallbackEnterSendsAnother(t *testing.T) {
	f := newPushFixture(t, mfa.Config{})
	f.answer(t, mfa.PushDecision{By: "page"}) // "I made a mistake"
	d := f.decide(t, mfa.Request{UserName: "bob"})
	if d.Message != mfa.MsgFallback {
		t.Fatalf("got %+v", d)
	}
	f.answer(t, mfa.PushDecision{Approve: true, By: "page"})
	again := f.decide(t, mfa.Request{UserName: "bob", State: d.State})
	if again.Action != mfa.ActionAccept || len(f.notifier.Messages()) != 2 {
		t.Fatalf("Enter at the fallback: %+v, %d notifications", again, len(f.notifier.Messages()))
	}
}

func TestPushChallengeFlow(t *testing.T) {
	tests := []struct {
		variant mfa.PushVariant
		prompt  string
		pick    func(n mfa.PushView, number string) string
		action  mfa.Action
	}{
		{mfa.VariantPlain, "Approve the sign-in request on your phone, then press Enter", nil, mfa.ActionAccept},
		{mfa.VariantAck, "(request code ", nil, mfa.ActionAccept},
		{mfa.VariantChoose, "by choosing ", func(_ mfa.PushView, n string) string { return n }, mfa.ActionAccept},
		{mfa.VariantEnter, "by entering ", func(_ mfa.PushView, n string) string { return " " + n + " " }, mfa.ActionAccept},
		{mfa.VariantChoose, "by choosing ", func(v mfa.PushView, n string) string {
			for _, c := range v.Choices {
				if c != n {
					return c
				}
			}
			return ""
		}, mfa.ActionReject},
		{mfa.VariantEnter, "by entering ", func(mfa.PushView, string) string { return "00" }, mfa.ActionReject},
	}
	for _, tt := range tests {
		t.Run(string(tt.variant)+"/"+tt.action.String(), func(t *testing.T) {
			f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: mfa.FlowChallenge, Variant: tt.variant}})
			ch := f.decide(t, mfa.Request{UserName: "bob"})
			if ch.Action != mfa.ActionChallenge || !strings.Contains(ch.Message, tt.prompt) {
				t.Fatalf("got %v %q", ch.Action, ch.Message)
			}
			number := ""
			if p := f.store.Pushes()[0]; tt.variant != mfa.VariantPlain {
				number = p.Number
				if !strings.Contains(ch.Message, number) {
					t.Fatalf("prompt %q does not show %s", ch.Message, number)
				}
			}
			tok := token(t, f.notifier.Messages()[0])
			view, err := f.engine.PushView(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if view.User != "bob" || view.Resource != "gw1" || view.ClientIP != "203.0.113.9" || view.Variant != tt.variant {
				t.Fatalf("view %+v", view)
			}
			if tt.variant == mfa.VariantChoose && (len(view.Choices) != 3 || !containsStr(view.Choices, number)) {
				t.Fatalf("choices %v, number %s", view.Choices, number)
			}
			if tt.variant == mfa.VariantAck && view.RequestCode != number {
				t.Fatalf("request code %q, want %q", view.RequestCode, number)
			}
			dec := mfa.PushDecision{Approve: true, By: "page"}
			if tt.pick != nil {
				dec.Number = tt.pick(view, number)
			}
			if _, err := f.engine.DecidePush(context.Background(), tok, dec); err != nil {
				t.Fatal(err)
			}
			d := f.decide(t, mfa.Request{UserName: "bob", State: ch.State})
			if d.Action != tt.action {
				t.Fatalf("answer: %v %q (%s)", d.Action, d.Message, d.Reason)
			}
			if len(f.notifier.Messages()) != 1+map[bool]int{true: 2, false: 0}[tt.action == mfa.ActionReject] {
				t.Fatalf("%d notifications", len(f.notifier.Messages()))
			}
		})
	}
}

// TestPushChallengeRetransmittedAnswer: FreeRADIUS gives up on a State
// answer that waits for a push and treats the NAS's retransmission as a new
// request. That retransmission (same source and Request Authenticator)
// joins the same push; another packet with the used State does not.
func TestPushChallengeRetransmittedAnswer(t *testing.T) {
	f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: mfa.FlowChallenge, Timeout: mfa.Duration(5 * time.Second)}})
	ch := f.decide(t, mfa.Request{UserName: "bob", Authenticator: []byte("first packet....")})
	if ch.Action != mfa.ActionChallenge {
		t.Fatalf("got %v %q", ch.Action, ch.Message)
	}
	answer := mfa.Request{UserName: "bob", State: ch.State, Authenticator: []byte("the answer......")}
	var wg sync.WaitGroup
	got := make([]mfa.Decision, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = f.decide(t, answer)
		}()
		time.Sleep(50 * time.Millisecond) // the first copy takes the State
	}
	other := answer
	other.Authenticator = []byte("another packet..")
	if d := f.decide(t, other); d.Action != mfa.ActionReject || !strings.Contains(d.Reason, "unknown State") {
		t.Fatalf("another packet with the used State: %v (%s), want unknown State", d.Action, d.Reason)
	}
	if _, err := f.engine.DecidePush(context.Background(), token(t, f.notifier.Messages()[0]), mfa.PushDecision{Approve: true, By: "page"}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, d := range got {
		if d.Action != mfa.ActionAccept || d.TxID != ch.TxID {
			t.Errorf("copy %d: %v (%s), want accepted in %s", i, d.Action, d.Reason, ch.TxID)
		}
	}
	// A copy that arrives after the approval gets the approval too.
	if d := f.decide(t, answer); d.Action != mfa.ActionAccept {
		t.Fatalf("late copy: %v (%s)", d.Action, d.Reason)
	}
	if n := len(f.notifier.Messages()); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
	// Past the push's expiry and the grace, even a copy is refused.
	f.clock.Advance(5*time.Second + time.Minute)
	if d := f.decide(t, answer); d.Action != mfa.ActionReject {
		t.Fatalf("copy long after: %v (%s)", d.Action, d.Reason)
	}
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestPushJoin(t *testing.T) {
	auth := []byte("0123456789abcdef")
	nas := mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1000, Identifier: "gw1", CallingStationID: "203.0.113.9"}
	tests := []struct {
		name     string
		second   mfa.Request
		joins    bool
		noJoinCS bool
	}{
		{"retransmission", mfa.Request{UserName: "bob", NAS: nas, Authenticator: auth}, true, false},
		{"same user, client and calling station", mfa.Request{UserName: "bob", NAS: nas, Authenticator: []byte("another packet!!")}, true, false},
		{"calling station join switched off", mfa.Request{UserName: "bob", NAS: nas, Authenticator: []byte("another packet!!")}, false, true},
		{"calling station join off by default", mfa.Request{UserName: "bob", NAS: nas, Authenticator: []byte("another packet!!")}, false, true},
		{"same user and client, no calling station", mfa.Request{UserName: "bob", NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1001}, Authenticator: []byte("another packet!!")}, false, false},
		{"same user and client, other calling station", mfa.Request{UserName: "bob", NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1001, CallingStationID: "198.51.100.66"}, Authenticator: []byte("another packet!!")}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on := !tt.noJoinCS
			cfg := mfa.Config{Push: mfa.PushConfig{Timeout: mfa.Duration(5 * time.Second), JoinByCallingStation: &on}}
			if strings.HasSuffix(tt.name, "by default") {
				cfg.Push.JoinByCallingStation = nil
			}
			f := newPushFixture(t, cfg)
			var wg sync.WaitGroup
			var first, second mfa.Decision
			wg.Add(1)
			firstDone := make(chan struct{})
			go func() {
				defer wg.Done()
				defer close(firstDone)
				first = f.decide(t, mfa.Request{UserName: "bob", NAS: nas, Authenticator: auth})
			}()
			waitFor(t, func() bool { return len(f.notifier.Messages()) == 1 })
			wg.Add(1)
			go func() {
				defer wg.Done()
				second = f.decide(t, tt.second)
			}()
			if tt.joins {
				time.Sleep(100 * time.Millisecond)
				if n := len(f.notifier.Messages()); n != 1 {
					t.Fatalf("%d notifications: a joining request must not send another", n)
				}
				f.engine.DecidePush(context.Background(), token(t, f.notifier.Messages()[0]), mfa.PushDecision{Approve: true, By: "page"})
				wg.Wait()
				if first.Action != mfa.ActionAccept || second.Action != mfa.ActionAccept || first.TxID != second.TxID {
					t.Fatalf("first %+v second %+v: want both accepted, one transaction", first, second)
				}
				return
			}
			// No join: the second request sends its own push, which
			// supersedes the first; approving the first one is refused, so a
			// concurrent login never rides the victim's approval.
			waitFor(t, func() bool { return len(f.notifier.Messages()) == 2 })
			// The superseded login is answered at once, not at its timeout.
			select {
			case <-firstDone:
			case <-time.After(5 * time.Second):
				t.Fatal("the login waiting for the superseded push is still waiting")
			}
			if first.Action != mfa.ActionReject {
				t.Fatalf("superseded login: %+v, want a reject", first)
			}
			_, err := f.engine.DecidePush(context.Background(), token(t, f.notifier.Messages()[0]), mfa.PushDecision{Approve: true, By: "page"})
			if !errors.Is(err, mfa.ErrPushDecided) {
				t.Fatalf("approving the superseded push: %v", err)
			}
			f.engine.DecidePush(context.Background(), token(t, f.notifier.Messages()[1]), mfa.PushDecision{Fraud: true, By: "page"})
			wg.Wait()
			if first.Action == mfa.ActionAccept || second.Action == mfa.ActionAccept {
				t.Fatalf("first %+v second %+v: nothing may be accepted", first, second)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in 5 s")
}

func TestPushRateLimit(t *testing.T) {
	f := newPushFixture(t, mfa.Config{})
	f.answer(t, mfa.PushDecision{By: "page"}) // each ends in the fallback
	for i := 0; i < 3; i++ {
		if d := f.decide(t, mfa.Request{UserName: "bob"}); d.Message != mfa.MsgFallback {
			t.Fatalf("push %d: %+v", i, d)
		}
	}
	d := f.decide(t, mfa.Request{UserName: "bob"})
	if d.Action != mfa.ActionReject || d.Message != mfa.MsgRateLimited {
		t.Fatalf("4th push: %+v", d)
	}
	f.clock.Advance(5 * time.Minute)
	if d := f.decide(t, mfa.Request{UserName: "bob"}); d.Message != mfa.MsgFallback {
		t.Fatalf("after the window: %+v", d)
	}
}

func TestPushBackends(t *testing.T) {
	open := mfa.Profile{Name: "open", Clients: []string{"vpn"}, FailMode: mfa.FailOpen}
	tests := []struct {
		name    string
		cfg     mfa.Config
		opts    []mfa.Option
		fail    bool
		user    string
		action  mfa.Action
		message string
		event   string
	}{
		{"notifier down, secure", mfa.Config{}, nil, true, "bob", mfa.ActionReject, mfa.MsgPushFailed,
			"Failure:push could not be delivered: ntfy: 503; fail mode secure: rejected"},
		{"notifier reports a failed delivery", mfa.Config{}, nil, false, "bob", mfa.ActionReject, mfa.MsgPushFailed,
			"Failure:push could not be delivered: ntfy: 503 (refused by the notifier: never fails open)"},
		// A refused message (a wrong number or topic) is not a notifier
		// that is down: making delivery fail must not be a way in.
		{"notifier reports a failed delivery, open profile", mfa.Config{Profiles: []mfa.Profile{open}}, nil, false, "bob", mfa.ActionReject, mfa.MsgPushFailed,
			"Failure:push could not be delivered: ntfy: 503 (refused by the notifier: never fails open)"},
		{"notifier down, open profile", mfa.Config{Profiles: []mfa.Profile{open}}, nil, true, "bob", mfa.ActionAccept, "",
			"Success:push could not be delivered: ntfy: 503; fail mode open: accepted"},
		{"daemon down (exec), secure", mfa.Config{}, []mfa.Option{mfa.WithPushBackendDown()}, false, "bob", mfa.ActionReject, mfa.MsgPushFailed,
			"Failure:push unavailable: the radmfa daemon cannot be reached; fail mode secure: rejected"},
		{"user without push device", mfa.Config{}, nil, false, "carol", mfa.ActionChallenge, mfa.MsgEnterAppCode,
			"Challenge:challenge: enter the code from the authenticator app"},
		{"push disabled for the client", mfa.Config{Profiles: []mfa.Profile{{Name: "eap", Clients: []string{"vpn"}, Push: mfa.ProfilePush{Disabled: true}}}}, nil, false, "bob",
			mfa.ActionChallenge, mfa.MsgEnterAppCode, "Challenge:challenge: enter the code from the authenticator app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture(t, tt.cfg, tt.opts...)
			if tt.fail {
				f.notifier.Err = errors.New("ntfy: 503")
			}
			if strings.HasPrefix(tt.name, "notifier reports") {
				f.notifier.FailedDetail = "ntfy: 503"
			}
			d := f.decide(t, mfa.Request{UserName: tt.user})
			if d.Action != tt.action || d.Message != tt.message {
				t.Fatalf("got %v %q (%s)", d.Action, d.Message, d.Reason)
			}
			evs := f.store.Events()
			if got := evs[len(evs)-1].Result.String() + ":" + evs[len(evs)-1].Message; got != tt.event {
				t.Fatalf("last event %q, want %q", got, tt.event)
			}
		})
	}
}

func TestDecidePushErrors(t *testing.T) {
	f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: mfa.FlowChallenge}})
	f.decide(t, mfa.Request{UserName: "bob"})
	tok := token(t, f.notifier.Messages()[0])
	ctx := context.Background()
	if _, err := f.engine.DecidePush(ctx, "forged-token", mfa.PushDecision{Approve: true}); !errors.Is(err, mfa.ErrPushNotFound) {
		t.Fatalf("forged: %v", err)
	}
	if _, err := f.engine.PushView(ctx, "forged-token"); !errors.Is(err, mfa.ErrPushNotFound) {
		t.Fatalf("forged view: %v", err)
	}
	f.clock.Advance(26 * time.Second)
	if _, err := f.engine.DecidePush(ctx, tok, mfa.PushDecision{Approve: true}); !errors.Is(err, mfa.ErrPushExpired) {
		t.Fatalf("expired: %v", err)
	}
	f2 := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: mfa.FlowChallenge}})
	f2.decide(t, mfa.Request{UserName: "bob"})
	tok2 := token(t, f2.notifier.Messages()[0])
	if _, err := f2.engine.DecidePush(ctx, tok2, mfa.PushDecision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.engine.DecidePush(ctx, tok2, mfa.PushDecision{Approve: true}); !errors.Is(err, mfa.ErrPushDecided) {
		t.Fatalf("reused token: %v", err)
	}
}

func TestPushWaitInterrupted(t *testing.T) {
	f := newPushFixture(t, mfa.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	f.notifier.OnNotify = func(mfa.Notification) { go func() { time.Sleep(50 * time.Millisecond); cancel() }() }
	_, err := f.engine.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob", NAS: mfa.NAS{ClientName: "vpn"}})
	if !errors.Is(err, mfa.ErrInterrupted) {
		t.Fatalf("got %v, want ErrInterrupted", err)
	}
	if ps := f.store.Pushes(); ps[0].Outcome != mfa.PushPending {
		t.Fatalf("push %s: it must stay pending for the retransmission", ps[0].Outcome)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, mfa.Config{})
	for i := 0; i < 4; i++ {
		if d := f.decide(t, "bob", "000000", nil); d.Reason != "wrong OTP" {
			t.Fatalf("attempt %d: %s", i, d.Reason)
		}
	}
	d := f.decide(t, "bob", "000000", nil)
	evs := f.store.Events()
	if d.Reason != "wrong OTP" || evs[len(evs)-1].Message != "account locked" {
		t.Fatalf("5th failure: %s / %s", d.Reason, evs[len(evs)-1].Message)
	}
	if d := f.decide(t, "bob", code(t, f.phone, t0, 0), nil); d.Reason != "account locked" || d.Message != mfa.MsgLocked {
		t.Fatalf("while locked: %+v", d)
	}
	f.clock.Advance(15 * time.Minute)
	if d := f.decide(t, "bob", code(t, f.phone, f.clock.Now(), 0), nil); d.Action != mfa.ActionAccept {
		t.Fatalf("after the lock: %+v", d)
	}
	if u := f.store.User("bob"); u.Failures != 0 {
		t.Fatalf("failures %d after a success", u.Failures)
	}
}

// TestLockoutFailureKey: a retransmitted packet counts once, but guesses
// that reuse one Request Authenticator (a client holding the secret) each
// count.
func TestLockoutFailureKey(t *testing.T) {
	nas := mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1000}
	auth := []byte("0123456789abcdef")
	try := func(f *fixture, code string) {
		t.Helper()
		d, err := f.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob",
			Passcode: mfa.Secret(code), NAS: nas, Authenticator: auth})
		if err != nil || d.Action != mfa.ActionReject {
			t.Fatalf("%+v %v", d, err)
		}
	}
	t.Run("retransmission counts once", func(t *testing.T) {
		f := newFixture(t, mfa.Config{})
		for i := 0; i < 3; i++ {
			try(f, "000000")
		}
		if u := f.store.User("bob"); u.Failures != 1 {
			t.Fatalf("%d failures, want 1", u.Failures)
		}
	})
	t.Run("same authenticator, other guesses", func(t *testing.T) {
		f := newFixture(t, mfa.Config{})
		for _, c := range []string{"000000", "111111", "222222"} {
			try(f, c)
		}
		if u := f.store.User("bob"); u.Failures != 3 {
			t.Fatalf("%d failures, want 3", u.Failures)
		}
	})
}

func TestProfileConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  mfa.Config
		want string
	}{
		{"choose needs challenge flow", mfa.Config{Push: mfa.PushConfig{Variant: mfa.VariantChoose}}, "needs flow = \"challenge\""},
		{"profile enter inline", mfa.Config{Profiles: []mfa.Profile{{Name: "x", Clients: []string{"a"}, Push: mfa.ProfilePush{Variant: mfa.VariantEnter, Flow: mfa.FlowInline}}}}, `profile "x": push: variant enter needs`},
		{"bad client", mfa.Config{Profiles: []mfa.Profile{{Name: "x", Clients: []string{"10.0.0.0/33"}}}}, "neither a short name"},
		{"two profiles one name", mfa.Config{Profiles: []mfa.Profile{{Name: "x", Clients: []string{"a"}}, {Name: "x", Clients: []string{"b"}}}}, `two profiles named "x"`},
		{"bad fail mode", mfa.Config{Profiles: []mfa.Profile{{Name: "x", Clients: []string{"a"}, FailMode: "maybe"}}}, "fail_mode"},
		{"bad approval url", mfa.Config{Push: mfa.PushConfig{ApprovalURL: "mfa.example.com"}}, "approval_url"},
		{"timeout too long", mfa.Config{Push: mfa.PushConfig{Timeout: mfa.Duration(time.Hour)}}, "push.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mfa.New(mfatest.NewStore(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
