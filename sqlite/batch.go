package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Batcher is an mfa.Store for a long-running process (radmfa serve) that
// commits concurrent decisions together. One writer goroutine takes the
// waiting Updates, runs each one's function inside its own savepoint of a
// single transaction, commits once, and then answers them all (group
// commit). Every Update still returns only after its own changes are
// committed, or not at all: a function that fails is rolled back to its
// savepoint without touching the others, and a failed commit fails the
// whole batch.
//
// Writes from other processes (radmfa exec, admin commands) interleave
// safely: the batch is an ordinary immediate transaction.
//
// WAL checkpoints run on a connection of their own, after commits, so the
// writer does not copy pages back into the database (and wait for their
// fsync) while decisions wait for it. The writer checkpoints itself only
// if that falls far behind (writerPragmas).
type Batcher struct {
	s        *Store
	reqs     chan *batchReq
	maxBatch int
	// committed wakes the checkpointer (capacity 1: one wake-up covers
	// any number of commits).
	committed chan struct{}

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	ckptDone  chan struct{}
}

var _ mfa.Store = (*Batcher)(nil)

type batchReq struct {
	ctx context.Context
	fn  func(mfa.Tx) error
	err chan error
}

// writerPragmas tune the batcher's connection: a 64 MiB page cache, up
// to 1 GiB of the database memory-mapped, and auto-checkpoints only once
// the WAL holds 20,000 pages (80 MB), which the checkpointer normally
// never lets happen.
const writerPragmas = "PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824; PRAGMA wal_autocheckpoint = 20000"

// checkpointEvery is the most often the checkpointer runs: under load it
// copies the pages of many batches at once.
const checkpointEvery = 100 * time.Millisecond

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("sqlite: store closed")

// NewBatcher starts a batching writer over s; at most maxBatch Updates
// share a transaction (default 256). Close stops it.
func (s *Store) NewBatcher(maxBatch int) *Batcher {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	b := &Batcher{s: s, reqs: make(chan *batchReq), maxBatch: maxBatch, committed: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), ckptDone: make(chan struct{})}
	go b.run()
	go b.checkpointer()
	return b
}

// checkpointer runs passive WAL checkpoints after commits, at most every
// checkpointEvery, until Close. A passive checkpoint never blocks the
// writer or readers; what it cannot copy yet (a reader still needs it) it
// copies next time. Errors are not fatal: the writer's auto-checkpoint
// still bounds the WAL.
func (b *Batcher) checkpointer() {
	defer close(b.ckptDone)
	ctx := context.Background()
	conn, err := b.s.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-b.committed:
		case <-b.stop:
			return
		}
		conn.ExecContext(quiet(ctx), "PRAGMA wal_checkpoint(PASSIVE)")
		t.Reset(checkpointEvery)
		select {
		case <-t.C:
		case <-b.stop:
			return
		}
	}
}

// Update implements mfa.Store.
func (b *Batcher) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, err: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-b.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once taken, the request is answered: wait for it even if ctx ends,
	// so the caller never reports a failure for a committed decision.
	return <-r.err
}

// Close finishes the Updates already taken and stops the writer. Updates
// after Close fail with ErrClosed.
func (b *Batcher) Close() {
	b.closeOnce.Do(func() { close(b.stop) })
	<-b.done
	<-b.ckptDone
}

// run is the writer goroutine. It owns one connection for its whole life,
// used directly through the driver so its prepared statements are reused
// by every batch.
func (b *Batcher) run() {
	defer close(b.done)
	ctx := context.Background()
	sc, err := b.s.db.Conn(ctx)
	if err == nil {
		defer sc.Close()
		err = sc.Raw(func(dc any) error {
			c, err := newConn(dc)
			if err != nil {
				return err
			}
			defer c.close()
			// The writer touches users, devices and events all the time:
			// a bigger page cache and memory-mapped reads keep those pages
			// out of read(2) calls.
			if _, err := c.c.Exec(writerPragmas, nil); err != nil {
				return err
			}
			b.loop(c)
			return nil
		})
	}
	if err != nil {
		// No connection: fail every request until Close.
		err = b.s.wrap("connect", err)
		for {
			select {
			case r := <-b.reqs:
				r.err <- err
			case <-b.stop:
				return
			}
		}
	}
}

// loop collects batches until Close.
func (b *Batcher) loop(c *conn) {
	for {
		var first *batchReq
		select {
		case first = <-b.reqs:
		case <-b.stop:
			return
		}
		batch := []*batchReq{first}
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(c, batch)
	}
}

// commit runs one batch in one transaction and answers every request.
func (b *Batcher) commit(c *conn, batch []*batchReq) {
	errs := make([]error, len(batch))
	answer := func(commitErr error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = commitErr
			}
			r.err <- errs[i]
		}
	}
	if err := b.s.begin(context.Background(), c); err != nil {
		answer(b.s.wrap("begin", err))
		return
	}
	t := &tx{s: b.s, c: c}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = b.savepoint(c, t, r)
	}
	if _, err := c.exec("COMMIT"); err != nil {
		c.exec("ROLLBACK")
		answer(b.s.wrap("commit", err))
		return
	}
	answer(nil)
	select {
	case b.committed <- struct{}{}:
	default:
	}
}

// savepoint runs one request's function inside a savepoint.
func (b *Batcher) savepoint(c *conn, t *tx, r *batchReq) error {
	if _, err := c.exec("SAVEPOINT decision"); err != nil {
		return b.s.wrap("savepoint", err)
	}
	err := r.fn(t)
	if err != nil {
		if _, rerr := c.exec("ROLLBACK TO decision"); rerr != nil {
			return fmt.Errorf("%w (and rolling back: %v)", b.s.wrap("update", err), rerr)
		}
		err = b.s.wrap("update", err)
	}
	if _, rerr := c.exec("RELEASE decision"); rerr != nil && err == nil {
		err = b.s.wrap("savepoint", rerr)
	}
	return err
}

// Ping checks that the database answers (for health checks).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.wrap("ping", s.db.QueryRowContext(quiet(ctx), "SELECT 1").Scan(&one))
}

// PendingChallenges counts the challenges that can still be answered.
func (s *Store) PendingChallenges(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(quiet(ctx), `SELECT count(*) FROM challenges WHERE expires_at > ?`, ms(s.now())).Scan(&n)
	return n, s.wrap("challenges", err)
}
