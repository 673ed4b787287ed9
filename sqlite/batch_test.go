package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestBatcherCommitsEachUpdateOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	if err := s.CreateUser(ctx, "test", "bob", testDevice("phone")); err != nil {
		t.Fatal(err)
	}
	devs, _ := s.UserDevices(ctx, "bob")
	b := s.NewBatcher(16)
	defer b.Close()

	const n = 200
	var wg sync.WaitGroup
	results := make([]error, n)
	fresh := make([]bool, n)
	boom := errors.New("boom")
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = b.Update(ctx, func(tx mfa.Tx) error {
				if err := tx.AddEvent(ctx, mfa.Event{Time: time.Now(), TxID: fmt.Sprint(i), User: "bob", Result: mfa.ResultFailure, FrontDoor: mfa.FrontDoorREST}); err != nil {
					return err
				}
				ok, err := tx.UseStep(ctx, devs[0].ID, 7)
				fresh[i] = ok
				if err != nil {
					return err
				}
				if i%10 == 0 {
					return boom // rolled back: its event must vanish, its step too
				}
				return nil
			})
		}()
	}
	wg.Wait()
	failed, wins := 0, 0
	for i, err := range results {
		switch {
		case i%10 == 0:
			if !errors.Is(err, boom) {
				t.Fatalf("update %d: %v, want boom", i, err)
			}
			failed++
		case err != nil:
			t.Fatalf("update %d: %v", i, err)
		case fresh[i]:
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d committed updates used step 7, want exactly 1", wins)
	}
	var count int
	s.db.QueryRow("SELECT count(*) FROM events").Scan(&count)
	if count != n-failed {
		t.Fatalf("%d events, want %d (failed updates leave none)", count, n-failed)
	}
}

// TestBatcherCheckpoints: the batcher's own connection never checkpoints
// at this size (wal_autocheckpoint = 20000), yet the commits reach the
// database file, copied there by the checkpointer. An immutable reader
// sees only the database file, never the WAL.
func TestBatcherCheckpoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, true)
	b := s.NewBatcher(0)
	defer b.Close()
	const n = 100
	for i := 0; i < n; i++ {
		if err := b.Update(ctx, func(tx mfa.Tx) error {
			return tx.AddEvent(ctx, mfa.Event{Time: time.Now(), TxID: fmt.Sprint(i), User: "bob", Result: mfa.ResultSuccess, FrontDoor: mfa.FrontDoorREST})
		}); err != nil {
			t.Fatal(err)
		}
	}
	inFile := func() (int, error) {
		// A new connection each time: an immutable one never rereads.
		file, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "radmfa.db")+"?mode=ro&immutable=1")
		if err != nil {
			return 0, err
		}
		defer file.Close()
		var count int
		err = file.QueryRow("SELECT count(*) FROM events").Scan(&count)
		return count, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Before the first checkpoint the file has no tables yet, and
		// during one it may be half written (an immutable reader takes no
		// locks): those reads fail, and the next one is tried.
		count, err := inFile()
		if err == nil && count == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d of %d events (%v) 5 s after the commits: no checkpoint", count, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBatcherClose(t *testing.T) {
	s := openTest(t, t.TempDir(), true)
	b := s.NewBatcher(0)
	if err := b.Update(context.Background(), func(mfa.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Close() // idempotent
	if err := b.Update(context.Background(), func(mfa.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestBatcherWithOtherProcessWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, true)
	other, err := Open(ctx, Config{Path: filepath.Join(dir, "radmfa.db")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatcher(0)
	defer b.Close()
	done := make(chan error, 1)
	go func() { done <- b.Update(ctx, func(tx mfa.Tx) error { return nil }) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("update finished while another process held the write lock: %v", err)
	default:
	}
	lock.Rollback()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBatcherDecide(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(b.TempDir(), "radmfa.db")}, Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 1000; i++ {
		s.CreateUser(ctx, "bench", fmt.Sprintf("u%d", i), testDevice("phone"))
	}
	batcher := s.NewBatcher(0)
	defer batcher.Close()
	e, _ := mfa.New(batcher, mfa.Config{})
	b.SetParallelism(32)
	var i int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			u := fmt.Sprintf("u%d", i%1000)
			mu.Unlock()
			if _, err := e.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: u, Passcode: mfa.Secret("000000")}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
