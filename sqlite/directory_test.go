package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// TestDirectoryState: a directory user gets a row once; its devices keep
// replay state and drift by key; removed devices lose theirs; replay is a
// compare-and-set; nothing survives a rolled-back transaction.
func TestDirectoryState(t *testing.T) {
	s := openTest(t, t.TempDir(), true)
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	keyA, keyB := []byte("key-a-0123456789"), []byte("key-b-0123456789")
	devs := []mfa.DirectoryDevice{{Key: keyA, Name: "Phone", Kind: mfa.DeviceTOTP}, {Key: keyB, Name: "ldap-phone", Kind: mfa.DeviceSMS}}

	var uid int64
	var got []mfa.DirectoryDevice
	err := s.Update(ctx, func(tx mfa.Tx) error {
		ds := tx.(mfa.DirectoryState)
		u, err := ds.EnsureDirectoryUser(ctx, "alice", at)
		if err != nil {
			return err
		}
		again, err := ds.EnsureDirectoryUser(ctx, "alice", at)
		if err != nil || again.ID != u.ID {
			t.Errorf("second EnsureDirectoryUser: %+v, %v; want the same user %d", again, err, u.ID)
		}
		uid = u.ID
		if got, err = ds.DirectoryDevices(ctx, uid, devs, at); err != nil {
			return err
		}
		if len(got) != 2 || got[0].ID <= 0 || got[0].ID == got[1].ID || got[0].LastStep != -1 || got[0].Name != "Phone" {
			t.Errorf("new devices: %+v", got)
		}
		for _, step := range []struct {
			step int64
			want bool
		}{{100, true}, {100, false}, {99, false}, {101, true}} {
			ok, err := ds.UseDirectoryStep(ctx, got[0].ID, step.step)
			if err != nil || ok != step.want {
				t.Errorf("UseDirectoryStep(%d) = %v, %v; want %v", step.step, ok, err, step.want)
			}
		}
		return ds.SyncDirectoryDevice(ctx, got[0].ID, 105, 3)
	})
	if err != nil {
		t.Fatal(err)
	}

	// The same keys again: same rows, with their state.
	err = s.Update(ctx, func(tx mfa.Tx) error {
		again, err := tx.(mfa.DirectoryState).DirectoryDevices(ctx, uid, devs, at)
		if err != nil {
			return err
		}
		if again[0].ID != got[0].ID || again[0].LastStep != 105 || again[0].Drift != 3 || again[1].ID != got[1].ID {
			t.Errorf("devices read again: %+v, want ids %d, %d with step 105, drift 3", again, got[0].ID, got[1].ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.DirectoryDeviceState(ctx, "alice")
	if err != nil || len(info) != 2 || info[0].Name != "Phone" || info[0].LastStep != 105 || info[0].LastUsed.IsZero() || info[1].Kind != mfa.DeviceSMS {
		t.Fatalf("DirectoryDeviceState: %+v, %v", info, err)
	}

	// A rolled-back transaction leaves nothing.
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx mfa.Tx) error {
		ds := tx.(mfa.DirectoryState)
		if _, err := ds.EnsureDirectoryUser(ctx, "bob", at); err != nil {
			return err
		}
		if _, err := ds.UseDirectoryStep(ctx, got[0].ID, 200); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the transaction's error", err)
	}
	if _, err := s.User(ctx, "bob"); !errors.Is(err, mfa.ErrNotFound) {
		t.Errorf("bob after rollback: %v, want not found", err)
	}

	// Device B removed from the directory, A's secret changed: A's old
	// state is gone, the new key starts afresh.
	keyA2 := []byte("key-a-new-secret")
	err = s.Update(ctx, func(tx mfa.Tx) error {
		now, err := tx.(mfa.DirectoryState).DirectoryDevices(ctx, uid, []mfa.DirectoryDevice{{Key: keyA2, Name: "Phone", Kind: mfa.DeviceTOTP}}, at)
		if err != nil {
			return err
		}
		if len(now) != 1 || now[0].LastStep != -1 || now[0].ID == got[0].ID {
			t.Errorf("after the change: %+v", now)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.DirectoryDeviceState(ctx, "alice"); err != nil || len(info) != 1 {
		t.Fatalf("after the change, state of %d devices (%v), want 1", len(info), err)
	}
	// Removing the user removes the state.
	if err := s.RemoveUser(ctx, "test", "alice"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM directory_devices`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d directory device rows after removing the user (%v)", n, err)
	}
}
