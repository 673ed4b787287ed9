package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
type Batcher struct {
	s        *Store
	reqs     chan *batchReq
	maxBatch int

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

var _ mfa.Store = (*Batcher)(nil)

type batchReq struct {
	ctx context.Context
	fn  func(mfa.Tx) error
	err chan error
}

// writerPragmas tune the batcher's connection: a 64 MiB page cache and up
// to 1 GiB of the database memory-mapped.
const writerPragmas = "PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824"

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("sqlite: store closed")

// NewBatcher starts a batching writer over s; at most maxBatch Updates
// share a transaction (default 256). Close stops it.
func (s *Store) NewBatcher(maxBatch int) *Batcher {
	if maxBatch <= 0 {
		maxBatch = 256
	}
	b := &Batcher{s: s, reqs: make(chan *batchReq), maxBatch: maxBatch, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
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
