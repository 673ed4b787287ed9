package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// RetentionConfig is the [retention] section: how long the event log is
// kept. radmfa serve prunes once a day; `radmfa report prune` prunes by
// hand.
type RetentionConfig struct {
	// Events is how long events, decided pushes and report rollups are
	// kept ("365d"). Default 0: forever. At least one day.
	Events mfa.Duration `toml:"events"`
}

// MinRetention is the shortest retention accepted: pruning must never
// reach the authentications in progress.
const MinRetention = 24 * time.Hour

// Validate reports configuration errors.
func (c RetentionConfig) Validate() error {
	if d := time.Duration(c.Events); d != 0 && d < MinRetention {
		return fmt.Errorf("retention.events = %s: must be 0 (keep forever) or at least 1d", d)
	}
	return nil
}

// Cutoff returns the instant before which data is pruned at now, and false
// when everything is kept.
func (c RetentionConfig) Cutoff(now time.Time) (time.Time, bool) {
	if c.Events == 0 {
		return time.Time{}, false
	}
	return now.Add(-time.Duration(c.Events)), true
}

// PruneStats counts what Prune deleted so far.
type PruneStats struct {
	Events  int // event rows
	Pushes  int // decided pushes (pending ones are never pruned)
	Rollups int // report rollup rows (of whole days before the cutoff's day)
	Batches int // write transactions
	// Longest is the longest time one batch held the write lock.
	Longest time.Duration
}

// Total is the number of rows deleted.
func (p PruneStats) Total() int { return p.Events + p.Pushes + p.Rollups }

// Batch sizing: a batch should hold the write lock for about pruneTarget;
// between batches Prune pauses so that other writers (authentications in
// radmfa exec and serve) get the lock first.
const (
	pruneTarget   = 4 * time.Millisecond
	pruneMinBatch = 50
	pruneMaxBatch = 5000
	prunePause    = 10 * time.Millisecond
)

// Prune deletes events, decided pushes and report rollups older than
// before, in small batches: each batch is its own write transaction sized
// to hold the lock for a few milliseconds, followed by a short pause, so
// authentications from other processes never wait long. progress, if not
// nil, is called after every batch with the totals so far. Pruning can be
// interrupted (ctx) and resumed at any point. The file does not shrink:
// SQLite reuses the freed pages for new events.
func (s *Store) Prune(ctx context.Context, before time.Time, progress func(PruneStats)) (PruneStats, error) {
	var st PruneStats
	cut := ms(before)
	steps := []struct {
		count *int
		query string
		arg   int64
		// warm reads, before the write transaction, the index entries the
		// delete will touch: old rows' pages are usually not in memory,
		// and reading them from disk under the write lock would hold it
		// for tens of milliseconds.
		warm string
	}{
		{&st.Events, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)`, cut,
			`SELECT COUNT(*) FROM (SELECT tx_id, user_name, client, nas_identifier, time FROM events WHERE time < ? ORDER BY time LIMIT ?) AS d
			WHERE EXISTS (SELECT 1 FROM events INDEXED BY events_tx WHERE tx_id = d.tx_id)
			AND EXISTS (SELECT 1 FROM events INDEXED BY events_user_time WHERE user_name = d.user_name AND time = d.time)
			AND EXISTS (SELECT 1 FROM events INDEXED BY events_client_time WHERE client = d.client AND time = d.time)
			AND EXISTS (SELECT 1 FROM events INDEXED BY events_nas_time WHERE nas_identifier = d.nas_identifier AND time = d.time)`},
		{&st.Pushes, `DELETE FROM pushes WHERE id IN (SELECT id FROM pushes WHERE created_at < ? AND outcome <> 'pending'
			ORDER BY created_at LIMIT ?)`, cut,
			`SELECT COUNT(*) FROM (SELECT tx_id, user_name, client, nas_identifier, token_hash, created_at FROM pushes
				WHERE created_at < ? AND outcome <> 'pending' ORDER BY created_at LIMIT ?) AS d
			WHERE EXISTS (SELECT 1 FROM pushes INDEXED BY pushes_tx WHERE tx_id = d.tx_id)
			AND EXISTS (SELECT 1 FROM pushes INDEXED BY pushes_user_created WHERE user_name = d.user_name AND created_at = d.created_at)
			AND EXISTS (SELECT 1 FROM pushes INDEXED BY pushes_client_created WHERE client = d.client AND created_at = d.created_at)
			AND EXISTS (SELECT 1 FROM pushes INDEXED BY pushes_nas_created WHERE nas_identifier = d.nas_identifier AND created_at = d.created_at)
			AND EXISTS (SELECT 1 FROM pushes WHERE token_hash = d.token_hash)`},
		{&st.Rollups, `DELETE FROM report_nas_days WHERE rowid IN (SELECT rowid FROM report_nas_days WHERE day < ? ORDER BY day LIMIT ?)`, floorTo(cut, dayMS), ""},
		{&st.Rollups, `DELETE FROM report_user_days WHERE rowid IN (SELECT rowid FROM report_user_days WHERE day < ? ORDER BY day LIMIT ?)`, floorTo(cut, dayMS), ""},
		{&st.Rollups, `DELETE FROM report_hours WHERE rowid IN (SELECT rowid FROM report_hours WHERE hour < ? ORDER BY hour LIMIT ?)`, floorTo(cut, dayMS), ""},
	}
	// One connection of our own: its page cache is larger for the
	// duration, and it does not checkpoint inside its commits (SQLite's
	// auto-checkpoint would run while Commit returns and make batches look
	// longer); a passive checkpoint after each batch, which never takes
	// the write lock, keeps the WAL short instead.
	conn, err := s.db.Conn(quiet(ctx))
	if err != nil {
		return st, s.wrap("prune", err)
	}
	defer func() {
		conn.ExecContext(context.Background(), "PRAGMA wal_autocheckpoint = 1000")
		conn.ExecContext(context.Background(), "PRAGMA cache_size = -2000")
		conn.Close()
	}()
	for _, p := range []string{"PRAGMA wal_autocheckpoint = 0", "PRAGMA cache_size = -65536"} {
		if _, err := conn.ExecContext(quiet(ctx), p); err != nil {
			return st, s.wrap("prune", err)
		}
	}
	for _, step := range steps {
		// Tables differ in cost per row: start small each time and let
		// the measured lock time size the batches.
		batch := 100
		for {
			size := batch
			if step.warm != "" {
				var n int
				if err := conn.QueryRowContext(quiet(ctx), step.warm, step.arg, size).Scan(&n); err != nil {
					return st, s.wrap("prune", err)
				}
			}
			n, held, err := s.pruneBatch(ctx, conn, step.query, step.arg, size)
			if err != nil {
				return st, err
			}
			if n > 0 {
				*step.count += n
				st.Batches++
				st.Longest = max(st.Longest, held)
				if progress != nil {
					progress(st)
				}
				if _, err := conn.ExecContext(quiet(ctx), "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
					return st, s.wrap("prune: checkpoint", err)
				}
			}
			if n < size {
				break
			}
			switch {
			case held < pruneTarget/2:
				batch = min(batch*2, pruneMaxBatch)
			case held > pruneTarget*2:
				batch = max(batch/2, pruneMinBatch)
			}
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(max(prunePause, held)):
			}
		}
	}
	return st, nil
}

// pruneBatch runs one delete of at most limit rows in its own
// transaction and says how long it held the write lock.
func (s *Store) pruneBatch(ctx context.Context, conn *sql.Conn, query string, cut int64, limit int) (int, time.Duration, error) {
	var t *sql.Tx
	err := s.waitBusy(ctx, func() error {
		var err error
		t, err = conn.BeginTx(quiet(ctx), nil)
		return err
	})
	if err != nil {
		return 0, 0, s.wrap("prune", err)
	}
	start := time.Now()
	defer t.Rollback()
	res, err := t.ExecContext(quiet(ctx), query, cut, limit)
	if err != nil {
		return 0, 0, s.wrap("prune", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, 0, s.wrap("prune", err)
	}
	err = t.Commit()
	return int(n), time.Since(start), s.wrap("prune", err)
}

// PruneCount counts what Prune would delete (for a dry run).
func (s *Store) PruneCount(ctx context.Context, before time.Time) (PruneStats, error) {
	var st PruneStats
	cut := ms(before)
	err := s.db.QueryRowContext(quiet(ctx), `SELECT
		(SELECT COUNT(*) FROM events WHERE time < ?),
		(SELECT COUNT(*) FROM pushes WHERE created_at < ? AND outcome <> 'pending'),
		(SELECT COUNT(*) FROM report_nas_days WHERE day < ?) + (SELECT COUNT(*) FROM report_user_days WHERE day < ?) +
		(SELECT COUNT(*) FROM report_hours WHERE hour < ?)`,
		cut, cut, floorTo(cut, dayMS), floorTo(cut, dayMS), floorTo(cut, dayMS)).Scan(&st.Events, &st.Pushes, &st.Rollups)
	return st, s.wrap("prune", err)
}
