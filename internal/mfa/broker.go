package mfa

import (
	"context"
	"sync"
	"time"
)

// Broker is the PushWaiter of one radmfa serve: DecidePush in the same
// process wakes the requests waiting for that push at once. A push decided
// by another process is seen when the waiter's deadline passes (conclude
// reads the stored outcome), so nothing is lost, only time.
type Broker struct {
	load    func(ctx context.Context, id int64) (PushOutcome, error)
	mu      sync.Mutex
	waiters map[int64][]chan struct{}
}

var _ PushWaiter = (*Broker)(nil)

// NewBroker returns a broker that reads a push's outcome with load (a plain
// read, not a write transaction).
func NewBroker(load func(ctx context.Context, id int64) (PushOutcome, error)) *Broker {
	return &Broker{load: load, waiters: map[int64][]chan struct{}{}}
}

// Wait implements PushWaiter.
func (b *Broker) Wait(ctx context.Context, id int64, d time.Duration) (PushOutcome, error) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.waiters[id] = append(b.waiters[id], ch)
	b.mu.Unlock()
	defer b.remove(id, ch)
	// The push may have been decided before we registered.
	if o, err := b.load(ctx, id); err != nil || o != PushPending {
		return o, err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return b.load(context.WithoutCancel(ctx), id)
	case <-t.C:
		return PushPending, nil
	case <-ctx.Done():
		return PushPending, ctx.Err()
	}
}

// Decided implements PushWaiter.
func (b *Broker) Decided(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Waiting returns how many requests wait for pushes (for metrics).
func (b *Broker) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, w := range b.waiters {
		n += len(w)
	}
	return n
}

func (b *Broker) remove(id int64, ch chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.waiters[id]
	for i, c := range w {
		if c == ch {
			w = append(w[:i], w[i+1:]...)
			break
		}
	}
	if len(w) == 0 {
		delete(b.waiters, id)
	} else {
		b.waiters[id] = w
	}
}
