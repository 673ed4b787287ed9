package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// ErrExists is returned when adding a user or device that already exists.
var ErrExists = errors.New("already exists")

// UserInfo is a user with its devices, for admin commands.
type UserInfo struct {
	mfa.User
	CreatedAt time.Time
	Devices   []DeviceInfo
}

// DeviceInfo describes a device without its secret.
type DeviceInfo struct {
	ID        int64
	Name      string
	Kind      mfa.DeviceKind
	Algorithm string
	Digits    int
	Period    int
	Disabled  bool
	CreatedAt time.Time
	LastUsed  time.Time // zero if never used
	Address   string    // push, SMS, e-mail devices
	Notifier  string    // push, SMS, e-mail devices
	LastStep  int64     // last accepted TOTP step or HOTP counter, -1 if none
	Drift     int64     // TOTP drift in steps
}

// admin runs fn in a write transaction and records the audit entry with it.
func (s *Store) admin(ctx context.Context, actor, action, target, details string, fn func(*sql.Tx) error) error {
	t, err := s.beginTx(ctx)
	if err != nil {
		return s.wrap(action, err)
	}
	defer t.Rollback()
	if err := fn(t); err != nil {
		if errors.Is(err, mfa.ErrNotFound) || errors.Is(err, ErrExists) {
			return err
		}
		return s.wrap(action, err)
	}
	if _, err := t.ExecContext(quiet(ctx), `INSERT INTO audit (time, actor, action, target, details) VALUES (?, ?, ?, ?, ?)`,
		ms(s.now()), actor, action, target, details); err != nil {
		return s.wrap(action, err)
	}
	return s.wrap(action, t.Commit())
}

func userID(ctx context.Context, t *sql.Tx, name string) (int64, error) {
	var id int64
	err := t.QueryRowContext(quiet(ctx), `SELECT id FROM users WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("user %q: %w", name, mfa.ErrNotFound)
	}
	return id, err
}

func describe(d mfa.Device) string {
	if d.Kind.Delivers() {
		return fmt.Sprintf("device %s (%s to %s via %s)", d.Name, d.Kind, d.Address, orDefault(d.Notifier))
	}
	return fmt.Sprintf("device %s (%s %s, %d digits, %d s)", d.Name, d.Kind, d.Algorithm, d.Digits, d.Period)
}

func orDefault(s string) string {
	if s == "" {
		return "the default notifier"
	}
	return s
}

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// CreateUser adds a user (name already normalised) with a first device.
func (s *Store) CreateUser(ctx context.Context, actor, name string, dev mfa.Device) error {
	return s.admin(ctx, actor, "user.add", name, describe(dev), func(t *sql.Tx) error {
		res, err := t.ExecContext(quiet(ctx), `INSERT INTO users (name, created_at) VALUES (?, ?)`, name, ms(s.now()))
		if isUnique(err) {
			return fmt.Errorf("user %q %w", name, ErrExists)
		}
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		return s.insertDevice(ctx, t, id, name, dev)
	})
}

// AddDevice adds a device to an existing user.
func (s *Store) AddDevice(ctx context.Context, actor, user string, dev mfa.Device) error {
	return s.admin(ctx, actor, "device.add", user+"/"+dev.Name, describe(dev), func(t *sql.Tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		return s.insertDevice(ctx, t, id, user, dev)
	})
}

func (s *Store) insertDevice(ctx context.Context, t *sql.Tx, userID int64, user string, dev mfa.Device) error {
	if err := mfa.ValidateDevice(dev); err != nil {
		return err
	}
	sealed := []byte{}
	if !dev.Kind.Delivers() {
		var err error
		if sealed, err = s.seal(userID, dev.Name, dev.Secret); err != nil {
			return err
		}
	}
	var last any // NULL: never used
	if dev.Kind == mfa.DeviceHOTP && dev.LastStep >= 0 {
		last = dev.LastStep
	}
	_, err := t.ExecContext(quiet(ctx), `INSERT INTO devices (user_id, name, kind, algorithm, digits, period, secret, created_at, address, notifier, last_step)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userID, dev.Name, dev.Kind.String(), dev.Algorithm, dev.Digits, dev.Period, sealed, ms(s.now()),
		dev.Address, dev.Notifier, last)
	if isUnique(err) {
		return fmt.Errorf("device %q of user %q %w", dev.Name, user, ErrExists)
	}
	return err
}

// SetUserDisabled disables or enables a user.
func (s *Store) SetUserDisabled(ctx context.Context, actor, name string, disabled bool) error {
	action := map[bool]string{true: "user.disable", false: "user.enable"}[disabled]
	return s.admin(ctx, actor, action, name, "", func(t *sql.Tx) error {
		res, err := t.ExecContext(quiet(ctx), `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name)
		return mustAffect(res, err, fmt.Sprintf("user %q", name))
	})
}

// RemoveUser deletes a user with its devices. Events stay.
func (s *Store) RemoveUser(ctx context.Context, actor, name string) error {
	return s.admin(ctx, actor, "user.remove", name, "", func(t *sql.Tx) error {
		res, err := t.ExecContext(quiet(ctx), `DELETE FROM users WHERE name = ?`, name)
		return mustAffect(res, err, fmt.Sprintf("user %q", name))
	})
}

// SetDeviceDisabled disables or enables one device of a user.
func (s *Store) SetDeviceDisabled(ctx context.Context, actor, user, device string, disabled bool) error {
	action := map[bool]string{true: "device.disable", false: "device.enable"}[disabled]
	return s.admin(ctx, actor, action, user+"/"+device, "", func(t *sql.Tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		res, err := t.ExecContext(quiet(ctx), `UPDATE devices SET disabled = ? WHERE user_id = ? AND name = ?`, disabled, id, device)
		return mustAffect(res, err, fmt.Sprintf("device %q of user %q", device, user))
	})
}

// RemoveDevice deletes one device of a user.
func (s *Store) RemoveDevice(ctx context.Context, actor, user, device string) error {
	return s.admin(ctx, actor, "device.remove", user+"/"+device, "", func(t *sql.Tx) error {
		id, err := userID(ctx, t, user)
		if err != nil {
			return err
		}
		res, err := t.ExecContext(quiet(ctx), `DELETE FROM devices WHERE user_id = ? AND name = ?`, id, device)
		return mustAffect(res, err, fmt.Sprintf("device %q of user %q", device, user))
	})
}

func mustAffect(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, mfa.ErrNotFound)
	}
	return nil
}

// Users lists all users with their devices, by name.
func (s *Store) Users(ctx context.Context) ([]UserInfo, error) {
	return s.users(ctx, "")
}

// User returns one user with its devices, or an error wrapping
// mfa.ErrNotFound.
func (s *Store) User(ctx context.Context, name string) (UserInfo, error) {
	us, err := s.users(ctx, name)
	if err != nil {
		return UserInfo{}, err
	}
	if len(us) == 0 {
		return UserInfo{}, fmt.Errorf("user %q: %w", name, mfa.ErrNotFound)
	}
	return us[0], nil
}

func (s *Store) users(ctx context.Context, name string) ([]UserInfo, error) {
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT u.id, u.name, u.disabled, u.created_at,
			d.id, d.name, d.kind, d.algorithm, d.digits, d.period, d.disabled, d.created_at, d.last_used_at, d.address, d.notifier,
			u.failures, u.locked_until, d.last_step, d.drift, u.bypass_until, u.bypass_code_expires
		FROM users u LEFT JOIN devices d ON d.user_id = u.id
		WHERE ? = '' OR u.name = ?
		ORDER BY u.name, d.id`, name, name)
	if err != nil {
		return nil, s.wrap("list users", err)
	}
	defer rows.Close()
	var out []UserInfo
	for rows.Next() {
		var u UserInfo
		var created int64
		var did, digits, period, dcreated, lastUsed sql.NullInt64
		var dname, kind, alg, addr, notifier sql.NullString
		var ddis sql.NullBool
		var locked, bypassUntil, bypassCode int64
		var lastStep, drift sql.NullInt64
		if err := rows.Scan(&u.ID, &u.Name, &u.Disabled, &created, &did, &dname, &kind, &alg, &digits, &period, &ddis, &dcreated, &lastUsed,
			&addr, &notifier, &u.Failures, &locked, &lastStep, &drift, &bypassUntil, &bypassCode); err != nil {
			return nil, s.wrap("list users", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != u.ID {
			u.CreatedAt = time.UnixMilli(created).UTC()
			u.LockedUntil, u.BypassUntil, u.BypassCodeExpires = fromMillis(locked), fromMillis(bypassUntil), fromMillis(bypassCode)
			out = append(out, u)
		}
		if did.Valid {
			k, _ := mfa.ParseDeviceKind(kind.String)
			cur := &out[len(out)-1]
			cur.Devices = append(cur.Devices, DeviceInfo{
				ID: did.Int64, Name: dname.String, Kind: k, Algorithm: alg.String, Digits: int(digits.Int64),
				Period: int(period.Int64), Disabled: ddis.Bool, CreatedAt: fromMS(dcreated), LastUsed: fromMS(lastUsed),
				Address: addr.String, Notifier: notifier.String, LastStep: -1, Drift: drift.Int64,
			})
			if lastStep.Valid {
				cur.Devices[len(cur.Devices)-1].LastStep = lastStep.Int64
			}
		}
	}
	return out, s.wrap("list users", rows.Err())
}

// UserDevices returns a user's devices with their secrets (for admin tools
// that must compute codes, such as resync). Callers must not print them.
func (s *Store) UserDevices(ctx context.Context, name string) ([]mfa.Device, error) {
	var id int64
	err := s.db.QueryRowContext(quiet(ctx), `SELECT id FROM users WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, mfa.ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap("devices", err)
	}
	devs, err := s.devices(ctx, s.db, id)
	return devs, s.wrap("devices", err)
}

// EventRow is a stored event with its row id.
type EventRow struct {
	ID int64
	mfa.Event
}

// EventQuery selects events, newest first.
type EventQuery struct {
	Limit    int    // at most this many (default 100)
	BeforeID int64  // only events with a smaller id (paging cursor); 0 = from the newest
	User     string // only this (normalised) user's events
}

// Events returns events newest first.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]EventRow, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	before := q.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT id, time, tx_id, user_name, result, method, trigger, message, device,
			front_door, node, client, nas_ip, nas_identifier, called_station, calling_station, resource
		FROM events WHERE id < ? AND (? = '' OR user_name = ?) ORDER BY id DESC LIMIT ?`, before, q.User, q.User, q.Limit)
	if err != nil {
		return nil, s.wrap("events", err)
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var r EventRow
		var t int64
		var result, method, trigger, door string
		if err := rows.Scan(&r.ID, &t, &r.TxID, &r.User, &result, &method, &trigger, &r.Message, &r.Device,
			&door, &r.Node, &r.Client, &r.NASIPAddress, &r.NASIdentifier, &r.CalledStationID, &r.CallingStationID, &r.Resource); err != nil {
			return nil, s.wrap("events", err)
		}
		r.Time = time.UnixMilli(t).UTC()
		r.Result, _ = mfa.ParseResult(result)
		r.Method = mfa.Method(method)
		if trigger != "" {
			r.Trigger, _ = mfa.ParseTrigger(trigger)
		}
		r.FrontDoor, _ = mfa.ParseFrontDoor(door)
		out = append(out, r)
	}
	return out, s.wrap("events", rows.Err())
}

// AuditEntry is one admin action.
type AuditEntry struct {
	ID      int64
	Time    time.Time
	Actor   string
	Action  string
	Target  string
	Details string
}

// Audit returns admin actions newest first.
func (s *Store) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(quiet(ctx), `SELECT id, time, actor, action, target, details FROM audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, s.wrap("audit", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var t int64
		if err := rows.Scan(&a.ID, &t, &a.Actor, &a.Action, &a.Target, &a.Details); err != nil {
			return nil, s.wrap("audit", err)
		}
		a.Time = time.UnixMilli(t).UTC()
		out = append(out, a)
	}
	return out, s.wrap("audit", rows.Err())
}

// UnlockUser clears a user's failure count and lock.
func (s *Store) UnlockUser(ctx context.Context, actor, name string) error {
	return s.admin(ctx, actor, "user.unlock", name, "", func(t *sql.Tx) error {
		res, err := t.ExecContext(quiet(ctx), `UPDATE users SET failures = 0, locked_until = 0 WHERE name = ?`, name)
		return mustAffect(res, err, fmt.Sprintf("user %q", name))
	})
}

// PushOutcome reads a push's outcome with a plain read (for mfa.Broker).
func (s *Store) PushOutcome(ctx context.Context, id int64) (mfa.PushOutcome, error) {
	var o string
	err := s.db.QueryRowContext(quiet(ctx), `SELECT outcome FROM pushes WHERE id = ?`, id).Scan(&o)
	if errors.Is(err, sql.ErrNoRows) {
		return "", mfa.ErrNotFound
	}
	return mfa.PushOutcome(o), s.wrap("push", err)
}

// PendingPushes counts pushes still waiting for an answer (for metrics).
func (s *Store) PendingPushes(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(quiet(ctx), `SELECT count(*) FROM pushes WHERE outcome = 'pending' AND expires_at > ?`, ms(s.now())).Scan(&n)
	return n, s.wrap("pushes", err)
}

// SetBypass lets a user in without a second factor until the given time
// (zero ends every bypass, an unused one-time code too), for the help desk (seed 002); audited, and every
// use is an event.
func (s *Store) SetBypass(ctx context.Context, actor, name string, until time.Time) error {
	details := "until " + until.UTC().Format(time.RFC3339)
	if until.IsZero() {
		details = "ended"
	}
	return s.admin(ctx, actor, "user.bypass", name, details, func(t *sql.Tx) error {
		if until.IsZero() { // the end of every bypass, an unused code too
			res, err := t.ExecContext(quiet(ctx), `UPDATE users SET bypass_until = 0, bypass_code = NULL, bypass_code_expires = 0 WHERE name = ?`, name)
			return mustAffect(res, err, fmt.Sprintf("user %q", name))
		}
		res, err := t.ExecContext(quiet(ctx), `UPDATE users SET bypass_until = ? WHERE name = ?`, ms(until), name)
		return mustAffect(res, err, fmt.Sprintf("user %q", name))
	})
}

// SetBypassCode stores a one-time bypass code's hash (mfa.BypassCodeHash)
// valid until expires.
func (s *Store) SetBypassCode(ctx context.Context, actor, name string, hash []byte, expires time.Time) error {
	return s.admin(ctx, actor, "user.bypass", name, "one-time code until "+expires.UTC().Format(time.RFC3339), func(t *sql.Tx) error {
		res, err := t.ExecContext(quiet(ctx), `UPDATE users SET bypass_code = ?, bypass_code_expires = ? WHERE name = ?`, hash, ms(expires), name)
		return mustAffect(res, err, fmt.Sprintf("user %q", name))
	})
}

// AddAudit records an admin action done outside the store's own admin
// methods (a resynchronisation done through the engine).
func (s *Store) AddAudit(ctx context.Context, actor, action, target, details string) error {
	return s.admin(ctx, actor, action, target, details, func(*sql.Tx) error { return nil })
}
