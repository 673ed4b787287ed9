package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
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
	r, err := t.c.queryRow(`SELECT id, disabled FROM users WHERE name = ?`, name)
	if errors.Is(err, errNoRows) {
		return mfa.User{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.User{}, err
	}
	return mfa.User{ID: asInt(r[0]), Name: name, Disabled: asInt(r[1]) != 0}, nil
}

func (t *tx) Devices(_ context.Context, userID int64) ([]mfa.Device, error) {
	var out []mfa.Device
	err := t.c.query(devicesQuery, func(r []driver.Value) error {
		d, err := t.s.device(userID, asInt(r[0]), asString(r[1]), asString(r[2]), asString(r[3]), asInt(r[4]), asInt(r[5]), asBytes(r[6]), asInt(r[7]) != 0)
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
	_, err := t.c.exec(`INSERT INTO challenges (state_hash, user_name, tx_id, kind, client, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, c.Key, c.User, c.TxID, c.Kind.String(), c.Client, ms(c.Expires))
	return err
}

func (t *tx) TakeChallenge(_ context.Context, key []byte) (mfa.Challenge, error) {
	r, err := t.c.queryRow(`DELETE FROM challenges WHERE state_hash = ?
		RETURNING user_name, tx_id, kind, client, expires_at`, key)
	if errors.Is(err, errNoRows) {
		return mfa.Challenge{}, mfa.ErrNotFound
	}
	if err != nil {
		return mfa.Challenge{}, err
	}
	c := mfa.Challenge{Key: key, User: asString(r[0]), TxID: asString(r[1]), Client: asString(r[3]),
		Expires: time.UnixMilli(asInt(r[4])).UTC()}
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
