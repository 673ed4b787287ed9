package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// conn is one SQLite connection used through the driver directly, with its
// prepared statements. The engine's transactions run on it rather than
// through database/sql, which starts a goroutine for every transaction and
// another for every query inside one (to watch their contexts): serve runs
// thousands of decisions a second, and in a fresh radmfa exec process each
// such goroutine costs an OS thread.
type conn struct {
	c     *sqlite3.SQLiteConn
	stmts map[string]*sqlite3.SQLiteStmt
}

func newConn(dc any) (*conn, error) {
	c, ok := dc.(*sqlite3.SQLiteConn)
	if !ok {
		return nil, fmt.Errorf("sqlite: unexpected driver connection %T", dc)
	}
	return &conn{c: c, stmts: map[string]*sqlite3.SQLiteStmt{}}, nil
}

// close finalizes the prepared statements.
func (c *conn) close() {
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

func (c *conn) stmt(query string) (*sqlite3.SQLiteStmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	ds, err := c.c.Prepare(query)
	if err != nil {
		return nil, err
	}
	st := ds.(*sqlite3.SQLiteStmt)
	c.stmts[query] = st
	return st, nil
}

// args converts Go values to driver arguments.
func args(vals []any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case int:
			v = int64(x)
		case bool:
			v = map[bool]int64{false: 0, true: 1}[x]
		case mfa.Secret:
			v = []byte(x)
		}
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

// exec runs a statement (prepared once per connection).
func (c *conn) exec(query string, vals ...any) (driver.Result, error) {
	st, err := c.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(context.Background(), args(vals))
}

// query runs a query and calls row for each result row.
func (c *conn) query(query string, row func([]driver.Value) error, vals ...any) error {
	st, err := c.stmt(query)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(context.Background(), args(vals))
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := row(dest); err != nil {
			return err
		}
	}
}

// errNoRows is returned by queryRow when there is no row.
var errNoRows = errors.New("sqlite: no rows")

// queryRow runs a query and returns its first row's values.
func (c *conn) queryRow(query string, vals ...any) ([]driver.Value, error) {
	var out []driver.Value
	err := c.query(query, func(r []driver.Value) error {
		if out == nil {
			out = append([]driver.Value(nil), r...)
		}
		return nil
	}, vals...)
	if err == nil && out == nil {
		err = errNoRows
	}
	return out, err
}

// Column values as mattn returns them for STRICT tables.
func asInt(v driver.Value) int64 { i, _ := v.(int64); return i }
func asString(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}
func asBytes(v driver.Value) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}

// begin starts an immediate transaction on c, waiting for other writers as
// waitBusy does.
func (s *Store) begin(ctx context.Context, c *conn) error {
	return s.waitBusy(ctx, func() error {
		_, err := c.exec("BEGIN IMMEDIATE")
		return err
	})
}

// Update implements mfa.Store: fn runs in one immediate transaction.
func (s *Store) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sc, err := s.db.Conn(quiet(ctx))
	if err != nil {
		return s.wrap("connect", err)
	}
	defer sc.Close()
	return sc.Raw(func(dc any) error {
		c, err := newConn(dc)
		if err != nil {
			return err
		}
		defer c.close()
		if err := s.begin(ctx, c); err != nil {
			return s.wrap("begin", err)
		}
		if err := fn(&tx{s: s, c: c}); err != nil {
			c.exec("ROLLBACK")
			return s.wrap("update", err)
		}
		if _, err := c.exec("COMMIT"); err != nil {
			c.exec("ROLLBACK")
			return s.wrap("commit", err)
		}
		return nil
	})
}

// tx implements mfa.Tx inside a transaction on a conn.
type tx struct {
	s *Store
	c *conn
}

var _ mfa.Tx = (*tx)(nil)

func (t *tx) LookupUser(_ context.Context, name string) (mfa.User, error) {
	r, err := t.c.queryRow(`SELECT id, disabled, failures, locked_until, bypass_until, bypass_code, bypass_code_expires
		FROM users WHERE name = ?`, name)
	if errors.Is(err, errNoRows) {
		return mfa.User{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.User{}, err
	}
	u := mfa.User{ID: asInt(r[0]), Name: name, Disabled: asInt(r[1]) != 0, Failures: int(asInt(r[2])),
		LockedUntil: fromMillis(asInt(r[3])), BypassUntil: fromMillis(asInt(r[4])), BypassCode: asBytes(r[5]),
		BypassCodeExpires: fromMillis(asInt(r[6]))}
	return u, nil
}

func (t *tx) Devices(_ context.Context, userID int64) ([]mfa.Device, error) {
	var out []mfa.Device
	err := t.c.query(devicesQuery, func(r []driver.Value) error {
		d, err := t.s.device(userID, asInt(r[0]), asString(r[1]), asString(r[2]), asString(r[3]), asInt(r[4]), asInt(r[5]), asBytes(r[6]), asInt(r[7]) != 0)
		d.Address, d.Notifier = asString(r[8]), asString(r[9])
		d.LastStep, d.Drift = -1, asInt(r[11])
		if r[10] != nil {
			d.LastStep = asInt(r[10])
		}
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	}, userID)
	sortDevices(out)
	return out, err
}

func (t *tx) UseStep(_ context.Context, deviceID, step int64) (bool, error) {
	res, err := t.c.exec(`UPDATE devices SET last_step = ?, last_used_at = ?
		WHERE id = ? AND (last_step IS NULL OR last_step < ?)`, step, ms(t.s.now()), deviceID, step)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// challengeGrace keeps expired challenges for a while so that a late answer
// is told "expired" rather than "unknown".
const challengeGrace = time.Hour

func (t *tx) PutChallenge(_ context.Context, c mfa.Challenge) error {
	if _, err := t.c.exec(`DELETE FROM challenges WHERE expires_at < ?`, ms(t.s.now().Add(-challengeGrace))); err != nil {
		return err
	}
	_, err := t.c.exec(`INSERT INTO challenges (state_hash, user_name, tx_id, kind, client, expires_at, push_id,
		device_id, counter, code_hash, attempts, target, channel)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.Key, c.User, c.TxID, c.Kind.String(), c.Client, ms(c.Expires), c.PushID,
		c.DeviceID, c.Counter, c.CodeHash, c.Attempts, c.Target, string(c.Channel))
	return err
}

func (t *tx) TakeChallenge(_ context.Context, key []byte) (mfa.Challenge, error) {
	r, err := t.c.queryRow(`DELETE FROM challenges WHERE state_hash = ?
		RETURNING user_name, tx_id, kind, client, expires_at, push_id, device_id, counter, code_hash, attempts, target, channel`, key)
	if errors.Is(err, errNoRows) {
		return mfa.Challenge{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.Challenge{}, err
	}
	c := mfa.Challenge{Key: key, User: asString(r[0]), TxID: asString(r[1]), Client: asString(r[3]),
		Expires: time.UnixMilli(asInt(r[4])).UTC(), PushID: asInt(r[5]), DeviceID: asInt(r[6]), Counter: asInt(r[7]),
		CodeHash: asBytes(r[8]), Attempts: int(asInt(r[9])), Target: asString(r[10]), Channel: mfa.Method(asString(r[11]))}
	c.Kind, err = mfa.ParseChallengeKind(asString(r[2]))
	return c, err
}

func (t *tx) AddEvent(_ context.Context, e mfa.Event) error {
	_, err := t.c.exec(`INSERT INTO events (time, tx_id, user_name, result, method, trigger, message,
		device, front_door, node, client, nas_ip, nas_identifier, called_station, calling_station, resource)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ms(e.Time), e.TxID, e.User, e.Result.String(), string(e.Method), triggerText(e.Trigger), e.Message,
		e.Device, e.FrontDoor.String(), e.Node, e.Client, e.NASIPAddress, e.NASIdentifier,
		e.CalledStationID, e.CallingStationID, e.Resource)
	return err
}

// pushColumns are the columns read into a Push, in scanPush's order.
const pushColumns = `id, tx_id, user_name, created_at, expires_at, decided_at, outcome, variant, flow,
	number_shown, choices, resource, client, calling_station, nas_identifier, token_hash, dedup_key, node,
	decided_by, front_door`

func scanPush(r []driver.Value) mfa.Push {
	p := mfa.Push{ID: asInt(r[0]), TxID: asString(r[1]), User: asString(r[2]),
		Created: time.UnixMilli(asInt(r[3])).UTC(), Expires: time.UnixMilli(asInt(r[4])).UTC(),
		Outcome: mfa.PushOutcome(asString(r[6])), Variant: mfa.PushVariant(asString(r[7])), Flow: mfa.PushFlow(asString(r[8])),
		Number: asString(r[9]), Resource: asString(r[11]), Client: asString(r[12]), CallingStation: asString(r[13]),
		NASIdentifier: asString(r[14]), TokenHash: asBytes(r[15]), DedupKey: asString(r[16]), Node: asString(r[17]),
		DecidedBy: asString(r[18])}
	if r[5] != nil {
		p.Decided = time.UnixMilli(asInt(r[5])).UTC()
	}
	if c := asString(r[10]); c != "" {
		p.Choices = strings.Split(c, ",")
	}
	p.FrontDoor, _ = mfa.ParseFrontDoor(asString(r[19]))
	return p
}

func (t *tx) CreatePush(_ context.Context, p mfa.Push) (int64, error) {
	res, err := t.c.exec(`INSERT INTO pushes (tx_id, user_name, created_at, expires_at, outcome, variant, flow,
		number_shown, choices, resource, client, calling_station, nas_identifier, token_hash, dedup_key, node, front_door)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.TxID, p.User, ms(p.Created), ms(p.Expires), string(p.Outcome), string(p.Variant), string(p.Flow),
		p.Number, strings.Join(p.Choices, ","), p.Resource, p.Client, p.CallingStation, p.NASIdentifier,
		p.TokenHash, p.DedupKey, p.Node, p.FrontDoor.String())
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (t *tx) pushWhere(where string, vals ...any) (mfa.Push, error) {
	r, err := t.c.queryRow(`SELECT `+pushColumns+` FROM pushes WHERE `+where, vals...)
	if errors.Is(err, errNoRows) {
		return mfa.Push{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.Push{}, err
	}
	return scanPush(r), nil
}

func (t *tx) PushByID(_ context.Context, id int64) (mfa.Push, error) {
	return t.pushWhere(`id = ?`, id)
}

func (t *tx) PushByToken(_ context.Context, h []byte) (mfa.Push, error) {
	return t.pushWhere(`token_hash = ?`, h)
}

func (t *tx) JoinablePush(_ context.Context, key, user, client, station string, now time.Time) (mfa.Push, error) {
	if key != "" {
		p, err := t.pushWhere(`dedup_key = ? AND outcome = 'pending' AND expires_at > ? ORDER BY id DESC LIMIT 1`, key, ms(now))
		if !errors.Is(err, mfa.ErrNotFound) {
			return p, err
		}
	}
	if station == "" {
		return mfa.Push{}, mfa.ErrNotFound
	}
	return t.pushWhere(`user_name = ? AND client = ? AND calling_station = ? AND outcome = 'pending' AND expires_at > ?
		ORDER BY id DESC LIMIT 1`, user, client, station, ms(now))
}

func (t *tx) DecidePush(_ context.Context, id int64, o mfa.PushOutcome, at time.Time, by string) (bool, error) {
	var decided any
	if o != mfa.PushExpired && o != mfa.PushSuperseded {
		decided = ms(at)
	}
	res, err := t.c.exec(`UPDATE pushes SET outcome = ?, decided_at = ?, decided_by = ? WHERE id = ? AND outcome = 'pending'`,
		string(o), decided, by, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) SupersedePushes(_ context.Context, user string, except int64, at time.Time) ([]int64, error) {
	var ids []int64
	err := t.c.query(`UPDATE pushes SET outcome = 'superseded', decided_at = ?, decided_by = 'newer push'
		WHERE user_name = ? AND id != ? AND outcome = 'pending' RETURNING id`, func(r []driver.Value) error {
		ids = append(ids, asInt(r[0]))
		return nil
	}, ms(at), user, except)
	return ids, err
}

func (t *tx) CountPushes(_ context.Context, user string, since time.Time) (int, error) {
	r, err := t.c.queryRow(`SELECT count(*) FROM pushes WHERE user_name = ? AND created_at > ?`, user, ms(since))
	if err != nil {
		return 0, err
	}
	return int(asInt(r[0])), nil
}

func (t *tx) RecordFailure(_ context.Context, userID int64, max int, until time.Time, key string) (bool, error) {
	r, err := t.c.queryRow(`UPDATE users SET failures = failures + 1, last_failure_key = ?
		WHERE id = ? AND (? = '' OR last_failure_key != ?) RETURNING failures`, key, userID, key, key)
	if errors.Is(err, errNoRows) {
		return false, nil // the same packet again: counted already
	}
	if err != nil {
		return false, err
	}
	if asInt(r[0]) < int64(max) {
		return false, nil
	}
	_, err = t.c.exec(`UPDATE users SET failures = 0, locked_until = ? WHERE id = ?`, ms(until), userID)
	return err == nil, err
}

func (t *tx) ResetFailures(_ context.Context, userID int64) error {
	_, err := t.c.exec(`UPDATE users SET failures = 0, locked_until = 0, last_failure_key = '' WHERE id = ?`, userID)
	return err
}

func (t *tx) SyncDevice(_ context.Context, deviceID, lastStep, drift int64) error {
	_, err := t.c.exec(`UPDATE devices SET last_step = ?, drift = ? WHERE id = ?`, lastStep, drift, deviceID)
	return err
}

func (t *tx) UseBypassCode(_ context.Context, userID int64) error {
	_, err := t.c.exec(`UPDATE users SET bypass_code = NULL, bypass_code_expires = 0 WHERE id = ?`, userID)
	return err
}

func (t *tx) RecordCodeSend(_ context.Context, user string, channel mfa.Method, at time.Time) error {
	_, err := t.c.exec(`INSERT INTO code_sends (user_name, created_at, channel) VALUES (?, ?, ?)`, user, ms(at), string(channel))
	return err
}

func (t *tx) CountCodeSends(_ context.Context, user string, since time.Time) (int, error) {
	r, err := t.c.queryRow(`SELECT count(*) FROM code_sends WHERE user_name = ? AND created_at > ?`, user, ms(since))
	if err != nil {
		return 0, err
	}
	return int(asInt(r[0])), nil
}

// fromMillis is a stored time, or zero for 0.
func fromMillis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
