package rlmrest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// waitingDecider waits like a push: it gives the wait notice, then blocks
// until released or ctx ends.
type waitingDecider struct {
	notice  bool
	waiting chan struct{} // closed once Decide waits
	release chan mfa.Decision
}

func (w *waitingDecider) Decide(ctx context.Context, _ mfa.Request) (mfa.Decision, error) {
	if w.notice {
		mfa.NoticeWait(ctx)
		mfa.NoticeWait(ctx) // more than once is harmless
	}
	close(w.waiting)
	select {
	case d := <-w.release:
		return d, nil
	case <-ctx.Done():
		return mfa.Decision{TxID: "t1"}, fmt.Errorf("%w: %v", mfa.ErrInterrupted, ctx.Err())
	}
}

func (w *waitingDecider) Refuse(context.Context, mfa.Request, string) (mfa.Decision, error) {
	return mfa.Decision{Action: mfa.ActionReject}, nil
}

func (w *waitingDecider) RecordError(context.Context, mfa.Request, string, string) error {
	return nil
}

func post(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	body, q := EncodeRequest(mfa.Request{UserName: "alice", NAS: mfa.NAS{ClientName: "nas"}}, Packet{})
	resp, err := http.Post(url+"/?"+q.Encode(), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestTakeOver: a decision that waits for a push answers on the
// connection it took over (and closes it); one that does not answers
// through the server as usual; Drain answers a waiting one "no reply", and
// WaitTaken returns once it has.
func TestTakeOver(t *testing.T) {
	tests := []struct {
		name      string
		notice    bool
		drain     bool
		status    int
		body      string
		keepAlive bool
	}{
		{"waits, then approved", true, false, StatusAccept, `"control:Auth-Type"`, false},
		{"no wait", false, false, StatusAccept, `"control:Auth-Type"`, true},
		{"waits, then drained", true, true, StatusNoReply, "{}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := &waitingDecider{notice: tt.notice, waiting: make(chan struct{}), release: make(chan mfa.Decision, 1)}
			var observed []int
			h := &Handler{Decider: dec, Log: zerolog.Nop(), Timeout: 5 * time.Second,
				Observe: func(_ mfa.Request, _ mfa.Decision, status int, _ time.Duration) { observed = append(observed, status) }}
			srv := httptest.NewServer(h)
			defer srv.Close()
			go func() {
				<-dec.waiting
				time.Sleep(50 * time.Millisecond) // let the handler take the connection over
				if tt.drain {
					h.Drain()
				} else {
					dec.release <- mfa.Decision{Action: mfa.ActionAccept}
				}
			}()
			resp, body := post(t, srv.URL)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("got %d %s, want %d and %s", resp.StatusCode, body, tt.status, tt.body)
			}
			if resp.Close == tt.keepAlive {
				t.Fatalf("Connection: close = %v, want %v", resp.Close, !tt.keepAlive)
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := h.WaitTaken(ctx); err != nil {
				t.Fatalf("WaitTaken: %v", err)
			}
			want := []int{tt.status}
			if tt.drain {
				want = nil // shutting down is no decision
			}
			if fmt.Sprint(observed) != fmt.Sprint(want) {
				t.Fatalf("observed %v, want %v", observed, want)
			}
		})
	}
}

func TestWaitTakenTimesOut(t *testing.T) {
	h := &Handler{}
	h.taken.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.WaitTaken(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTaken: %v, want the deadline", err)
	}
	h.taken.Done()
}
