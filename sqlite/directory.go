package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// The store's part of directory users (mfa.DirectoryState): a users row
// for lockout and bypass, and the replay state of their directory devices
// in directory_devices (schema 6). The directory itself is never written.

var _ mfa.DirectoryState = (*tx)(nil)

// EnsureDirectoryUser implements mfa.DirectoryState.
func (t *tx) EnsureDirectoryUser(ctx context.Context, name string, at time.Time) (mfa.User, error) {
	if _, err := t.c.exec(`INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, ms(at)); err != nil {
		return mfa.User{}, err
	}
	return t.LookupUser(ctx, name)
}

// DirectoryDevices implements mfa.DirectoryState. It writes only when a
// device is new or gone, not on every login.
func (t *tx) DirectoryDevices(_ context.Context, userID int64, devices []mfa.DirectoryDevice, at time.Time) ([]mfa.DirectoryDevice, error) {
	type row struct {
		id, last, drift int64
		seen            bool
	}
	have := map[string]*row{}
	err := t.c.query(`SELECT id, key, last_step, drift FROM directory_devices WHERE user_id = ?`, func(r []driver.Value) error {
		have[string(asBytes(r[1]))] = &row{id: asInt(r[0]), last: asInt(r[2]), drift: asInt(r[3])}
		return nil
	}, userID)
	if err != nil {
		return nil, err
	}
	out := make([]mfa.DirectoryDevice, len(devices))
	for i, d := range devices {
		if len(d.Key) == 0 {
			return nil, fmt.Errorf("sqlite: directory device %q without a key", d.Name)
		}
		out[i] = d
		if r, ok := have[string(d.Key)]; ok {
			r.seen = true
			out[i].ID, out[i].LastStep, out[i].Drift = r.id, r.last, r.drift
			continue
		}
		r, err := t.c.queryRow(`INSERT INTO directory_devices (user_id, key, name, kind, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id, key) DO UPDATE SET name = excluded.name RETURNING id, last_step, drift`,
			userID, d.Key, d.Name, d.Kind.String(), ms(at))
		if err != nil {
			return nil, err
		}
		out[i].ID, out[i].LastStep, out[i].Drift = asInt(r[0]), asInt(r[1]), asInt(r[2])
		have[string(d.Key)] = &row{id: out[i].ID, seen: true}
	}
	for _, r := range have {
		if !r.seen {
			if _, err := t.c.exec(`DELETE FROM directory_devices WHERE id = ?`, r.id); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// UseDirectoryStep implements mfa.DirectoryState: UseStep's
// compare-and-set on a directory device.
func (t *tx) UseDirectoryStep(_ context.Context, id, step int64) (bool, error) {
	res, err := t.c.exec(`UPDATE directory_devices SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?`,
		step, ms(t.s.now()), id, step)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SyncDirectoryDevice implements mfa.DirectoryState.
func (t *tx) SyncDirectoryDevice(_ context.Context, id, lastStep, drift int64) error {
	res, err := t.c.exec(`UPDATE directory_devices SET last_step = ?, drift = ? WHERE id = ?`, lastStep, drift, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("sqlite: directory device %d: %w", id, mfa.ErrNotFound)
	}
	return nil
}

// DirectoryDeviceInfo is the state radmfa keeps of a directory device,
// for admin commands.
type DirectoryDeviceInfo struct {
	Key       []byte
	Name      string
	Kind      mfa.DeviceKind
	LastStep  int64 // -1 if never used
	Drift     int64
	LastUsed  time.Time // zero if never used
	CreatedAt time.Time // when radmfa first saw it
}

// DirectoryDeviceState lists the state kept for a user's directory
// devices, ordered by name. A user without any is no error.
func (s *Store) DirectoryDeviceState(ctx context.Context, name string) ([]DirectoryDeviceInfo, error) {
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT d.key, d.name, d.kind, d.last_step, d.drift, d.last_used_at, d.created_at
		FROM directory_devices d JOIN users u ON u.id = d.user_id WHERE u.name = ? ORDER BY d.name, d.id`, name)
	if err != nil {
		return nil, s.wrap("directory devices", err)
	}
	defer rows.Close()
	var out []DirectoryDeviceInfo
	for rows.Next() {
		var d DirectoryDeviceInfo
		var kind string
		var lastUsed *int64
		var created int64
		if err := rows.Scan(&d.Key, &d.Name, &kind, &d.LastStep, &d.Drift, &lastUsed, &created); err != nil {
			return nil, s.wrap("directory devices", err)
		}
		if d.Kind, err = mfa.ParseDeviceKind(kind); err != nil {
			return nil, s.wrap("directory devices", err)
		}
		if lastUsed != nil {
			d.LastUsed = fromMillis(*lastUsed)
		}
		d.CreatedAt = fromMillis(created)
		out = append(out, d)
	}
	return out, s.wrap("directory devices", rows.Err())
}
