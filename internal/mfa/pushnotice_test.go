package mfa_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// TestWaitNotice: Decide gives the wait notice once the push is sent and
// before it waits (inline, and a challenge's answer), never for a
// decision that does not wait.
func TestWaitNotice(t *testing.T) {
	tests := []struct {
		name    string
		flow    mfa.PushFlow
		pass    string
		notices int32
	}{
		{"inline push", mfa.FlowInline, "", 1},
		{"challenge flow: the challenge itself", mfa.FlowChallenge, "", 0},
		{"an OTP code", mfa.FlowInline, "123456", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: tt.flow}})
			var notices atomic.Int32
			sent := false
			f.notifier.OnNotify = func(n mfa.Notification) {
				sent = n.Kind == mfa.NotifyPush
				if notices.Load() != 0 {
					t.Error("notice before the notification was sent")
				}
				go func() {
					time.Sleep(20 * time.Millisecond)
					f.engine.DecidePush(context.Background(), token(t, n), mfa.PushDecision{Approve: true, By: "api"})
				}()
			}
			ctx := mfa.WithWaitNotice(context.Background(), func() {
				if !sent {
					t.Error("notice before the push was sent")
				}
				notices.Add(1)
			})
			_, err := f.engine.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "bob", Passcode: mfa.Secret(tt.pass),
				NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.10", ClientPort: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			if got := notices.Load(); got != tt.notices {
				t.Fatalf("%d notices, want %d", got, tt.notices)
			}
		})
	}
}

// TestDecideExpiredPush: answering a push that timed out (and was
// concluded) says it expired, not that it was answered.
func TestDecideExpiredPush(t *testing.T) {
	f := newPushFixture(t, mfa.Config{Push: mfa.PushConfig{Flow: mfa.FlowChallenge}})
	if d := f.decide(t, mfa.Request{UserName: "bob"}); d.Action != mfa.ActionChallenge {
		t.Fatalf("got %+v, want the push challenge", d)
	}
	p := f.store.Pushes()[0]
	err := f.store.Update(context.Background(), func(tx mfa.Tx) error {
		_, err := tx.DecidePush(context.Background(), p.ID, mfa.PushExpired, f.clock.Now(), "timeout")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.DecidePush(context.Background(), token(t, f.notifier.Messages()[0]), mfa.PushDecision{Approve: true, By: "page"}); !errors.Is(err, mfa.ErrPushExpired) {
		t.Fatalf("DecidePush after the timeout: %v, want ErrPushExpired", err)
	}
}
