package sqlite

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// recorder is a notifier that keeps what it sent.
type recorder struct {
	mu   sync.Mutex
	sent []mfa.Notification
}

func (r *recorder) Notify(_ context.Context, n mfa.Notification) (mfa.Delivery, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, n)
	return mfa.Delivery{Status: "sent"}, nil
}

func (r *recorder) last() mfa.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[len(r.sent)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func TestPushOnSQLite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	if err := s.CreateUser(ctx, "test", "bob", testDevice("phone")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDevice(ctx, "test", "bob", mfa.Device{Name: "app", Kind: mfa.DevicePush, Address: "bob-topic"}); err != nil {
		t.Fatal(err)
	}
	b := s.NewBatcher(0)
	defer b.Close()
	n := &recorder{}
	cfg := mfa.Config{Push: mfa.PushConfig{ApprovalURL: "https://mfa.example.com", Flow: mfa.FlowChallenge, Variant: mfa.VariantChoose}}
	e, err := mfa.New(b, cfg, mfa.WithNotifier(n), mfa.WithPushWaiter(mfa.NewBroker(s.PushOutcome)))
	if err != nil {
		t.Fatal(err)
	}
	req := mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob", Authenticator: []byte("0123456789abcdef"),
		NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.1", ClientPort: 5000, CallingStationID: "203.0.113.9"}}
	ch, err := e.Decide(ctx, req)
	if err != nil || ch.Action != mfa.ActionChallenge {
		t.Fatalf("challenge: %+v %v", ch, err)
	}
	// A retransmission joins: a new State, no new notification.
	again, err := e.Decide(ctx, req)
	if err != nil || again.Action != mfa.ActionChallenge || again.TxID != ch.TxID || n.count() != 1 {
		t.Fatalf("retransmission: %+v %v, %d notifications", again, err, n.count())
	}
	u := n.last().Push.ApprovalURL.Reveal()
	tok := u[strings.LastIndex(u, "/")+1:]
	view, err := e.PushView(ctx, tok)
	if err != nil || len(view.Choices) != 3 || view.User != "bob" {
		t.Fatalf("view %+v %v", view, err)
	}
	number := strings.Fields(ch.Message[strings.Index(ch.Message, "choosing")+len("choosing"):])[0]
	number = strings.TrimSuffix(number, ",")
	if _, err := e.DecidePush(ctx, tok, mfa.PushDecision{Approve: true, Number: number, By: "page"}); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob", State: again.State, NAS: req.NAS})
	if err != nil || d.Action != mfa.ActionAccept {
		t.Fatalf("answer: %+v %v", d, err)
	}
	var outcome, by string
	var decided int64
	s.db.QueryRow(`SELECT outcome, decided_by, decided_at FROM pushes`).Scan(&outcome, &by, &decided)
	if outcome != "approved" || by != "page" || decided == 0 {
		t.Fatalf("push row: %s %s %d", outcome, by, decided)
	}
	evs, _ := s.Events(ctx, EventQuery{})
	if len(evs) != 2 || evs[0].Result != mfa.ResultSuccess || evs[1].Result != mfa.ResultChallenge || evs[0].TxID != evs[1].TxID {
		t.Fatalf("events %+v", evs)
	}
	if evs[0].FrontDoor != mfa.FrontDoorREST || evs[0].Client != "vpn" || evs[0].CallingStationID != "203.0.113.9" {
		t.Fatalf("approval event context %+v", evs[0])
	}
}

func TestLockoutOnSQLite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	s.CreateUser(ctx, "test", "bob", testDevice("phone"))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	e, _ := mfa.New(s, mfa.Config{Lockout: mfa.LockoutConfig{Failures: 2}}, mfa.WithClock(func() time.Time { return now }))
	for i := 0; i < 2; i++ {
		e.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorExec, UserName: "bob", Passcode: mfa.Secret("000000")})
	}
	u, _ := s.User(ctx, "bob")
	if !u.LockedUntil.Equal(now.Add(15*time.Minute)) || u.Failures != 0 {
		t.Fatalf("after 2 failures: %+v", u.User)
	}
	if err := s.UnlockUser(ctx, "root", "bob"); err != nil {
		t.Fatal(err)
	}
	u, _ = s.User(ctx, "bob")
	if !u.LockedUntil.IsZero() {
		t.Fatalf("after unlock: %+v", u.User)
	}
}
