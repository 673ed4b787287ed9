package sqlite

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Config is the [store] section of radmfa.toml.
type Config struct {
	// Path of the database file. Default: radmfa.db in the data directory.
	Path string `toml:"path"`
	// KeyFile holds the key that encrypts OTP secrets. Default: the
	// database path with the extension .key (radmfa.db → radmfa.key).
	KeyFile string `toml:"key_file"`
	// BusyTimeout is how long a write waits for another process's write
	// transaction before giving up. Default 5s; keep it below the
	// FreeRADIUS exec timeout.
	BusyTimeout mfa.Duration `toml:"busy_timeout"`
}

// DefaultBusyTimeout is used when busy_timeout is unset.
const DefaultBusyTimeout = 5 * time.Second

// KeyPath returns the key file path, applying the default.
func (c Config) KeyPath() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return strings.TrimSuffix(c.Path, filepath.Ext(c.Path)) + ".key"
}

func (c Config) busyTimeout() time.Duration {
	if c.BusyTimeout == 0 {
		return DefaultBusyTimeout
	}
	return time.Duration(c.BusyTimeout)
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("store.path is empty")
	}
	if t := c.busyTimeout(); t < 100*time.Millisecond || t > time.Minute {
		return fmt.Errorf("store.busy_timeout = %s: must be between 100ms and 1m", t)
	}
	if c.KeyPath() == c.Path {
		return errors.New("store.key_file must differ from store.path")
	}
	return nil
}

// Errors returned by Open.
var (
	// ErrNoDatabase means the database does not exist and Open was not
	// asked to create it.
	ErrNoDatabase = errors.New("sqlite: no database")
	// ErrNewerSchema means the database was written by a newer radmfa.
	ErrNewerSchema = errors.New("sqlite: database schema is newer than this radmfa")
)

// Options change how Open behaves.
type Options struct {
	// Create makes Open create the database and its key file when they do
	// not exist yet.
	Create bool
	// Now is the clock for stored times (default time.Now).
	Now func() time.Time
	// Rand is the source of keys and nonces (default crypto/rand).
	Rand io.Reader
}

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	busy    time.Duration // total time a write may wait for the lock
	path    string
	keyPath string
	aead    cipher.AEAD
	now     func() time.Time
	rand    io.Reader
}

var _ mfa.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order.
func migrations() []migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("sqlite: migration file name without number: " + e.Name())
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{v, e.Name(), string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("sqlite: migrations must be numbered 1, 2, …: %s", m.name))
		}
	}
	return ms
}

// SchemaVersion is the schema version this build writes: the number of
// files in migrations/ (a test checks that they agree).
const SchemaVersion = 6

// Open opens the database described by cfg, applies pending migrations and
// loads the key. With opt.Create it creates the directory, database and key
// file as needed; many processes may race to do so.
func Open(ctx context.Context, cfg Config, opt Options) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: config: %w", err)
	}
	s := &Store{path: cfg.Path, keyPath: cfg.KeyPath(), busy: cfg.busyTimeout(), now: opt.Now, rand: opt.Rand}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		if !opt.Create {
			return nil, fmt.Errorf("%w at %s (radmfa user add creates it)", ErrNoDatabase, s.path)
		}
		if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
		// Create the file ourselves so it is private (SQLite would use
		// 0644, and gives the -wal and -shm files the database's mode).
		// An empty file is an empty database; losing the race is fine.
		if f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
		} else if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("sqlite: create database: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite3", dsn(s.path, min(cfg.busyTimeout(), sqliteBusySlice), opt.Create))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.db = db
	if err := s.setup(ctx, opt.Create); err != nil {
		db.Close()
		FixOwnership(s.files()...)
		return nil, err
	}
	FixOwnership(s.files()...)
	return s, nil
}

// sqliteBusySlice is how long SQLite's own busy handler waits before
// beginTx's loop takes over. SQLite's handler sleeps without looking at
// the context, so waits longer than this happen in Go, where SIGTERM and
// deadlines are noticed.
const sqliteBusySlice = 200 * time.Millisecond

// quiet returns the context SQL statements run with: ctx without its
// cancellation. Statements here are short; the one long wait, for another
// process's write lock, happens in beginTx's loop, which does watch ctx.
// A cancellable context would cost a watcher goroutine per statement in
// database/sql and another in mattn/go-sqlite3, and in a fresh radmfa exec
// process each of those needs a new OS thread.
func quiet(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// waitBusy runs fn until it does not fail with SQLITE_BUSY, for up to the
// busy timeout, and less if ctx ends. Each attempt already waits up to
// sqliteBusySlice inside SQLite.
func (s *Store) waitBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(s.busy)
	pause := 5 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// beginTx starts an immediate (write) transaction, waiting for another
// process's write to finish as waitBusy does.
func (s *Store) beginTx(ctx context.Context) (*sql.Tx, error) {
	var t *sql.Tx
	err := s.waitBusy(ctx, func() error {
		var err error
		t, err = s.db.BeginTx(quiet(ctx), nil)
		return err
	})
	return t, err
}

func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// dsn builds the mattn/go-sqlite3 data source name: WAL, synchronous=NORMAL,
// immediate write transactions, foreign keys, a busy timeout.
func dsn(path string, busy time.Duration, create bool) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	v := fmt.Sprintf("file:%s?_busy_timeout=%d&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate&_foreign_keys=on",
		escaped, busy.Milliseconds())
	if !create {
		v += "&mode=rw"
	}
	return v
}

// files lists the files the store may own.
func (s *Store) files() []string {
	return []string{s.path, s.path + "-wal", s.path + "-shm", s.keyPath}
}

// walTrimBytes is the WAL size above which TrimWAL checkpoints: about 16
// decisions' worth, cheap for the next process to re-read.
const walTrimBytes = 256 << 10

// TrimWAL is for processes that exit without Close (radmfa exec). Close
// would checkpoint and delete the WAL: four fsyncs and two unlinks, more
// than the decision itself, and the next process would create the WAL
// again. Without Close, the WAL stays; a process that opens the database
// while no other has it open rebuilds its index by reading the whole WAL,
// and SQLite's passive auto-checkpoints cannot shorten it then (the record
// of what was checkpointed is lost with the index). So once the WAL has
// grown past a small size, TrimWAL checkpoints it and truncates it to
// zero: the fsyncs happen once every dozen or so decisions, and opening
// stays cheap. It gives up quietly if other processes keep the WAL busy;
// a later call finishes the job.
func (s *Store) TrimWAL(ctx context.Context) error {
	st, err := os.Stat(s.path + "-wal")
	if err != nil || st.Size() < walTrimBytes {
		return nil
	}
	var busy, logFrames, done int
	err = s.db.QueryRowContext(quiet(ctx), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
	return s.wrap("checkpoint", err)
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// KeyPath returns the key file's path.
func (s *Store) KeyPath() string { return s.keyPath }

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	FixOwnership(s.files()...)
	return err
}

// setup brings the schema up to date and loads the key. The common case
// (schema current, key check present) needs only two reads; otherwise the
// work happens in one immediate transaction, which serialises processes
// racing to create the database.
func (s *Store) setup(ctx context.Context, create bool) error {
	var version int
	var check []byte
	err := s.waitBusy(ctx, func() error {
		var err error
		version, check, err = s.schemaState(ctx, s.db)
		return err
	})
	if err != nil {
		return s.wrap("open", err)
	}
	if version == SchemaVersion && check != nil {
		return s.loadKey(check)
	}
	tx, err := s.beginTx(ctx)
	if err != nil {
		return s.wrap("open", err)
	}
	defer tx.Rollback()
	if version, check, err = s.schemaState(ctx, tx); err != nil {
		return s.wrap("open", err)
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: %s has schema %d, this radmfa knows up to %d; upgrade radmfa", ErrNewerSchema, s.path, version, SchemaVersion)
	}
	for _, m := range migrations()[version:] {
		if _, err := tx.ExecContext(quiet(ctx), m.sql); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(quiet(ctx), fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return s.wrap("migrate", err)
	}
	if check == nil {
		key, err := readKey(s.keyPath)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return fmt.Errorf("%w: %s (and the database has no key yet)", ErrKeyMissing, s.keyPath)
			}
			key, err = createKey(s.keyPath, s.rand)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(quiet(ctx), `INSERT INTO meta (key, value) VALUES ('key_check', ?)`, keyCheck(key)); err != nil {
			return s.wrap("store key check", err)
		}
		if s.aead, err = newAEAD(key); err != nil {
			return err
		}
	} else if err := s.loadKey(check); err != nil {
		return err
	}
	return s.wrap("migrate", tx.Commit())
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaState returns the schema version and the stored key check (nil if
// none).
func (s *Store) schemaState(ctx context.Context, q querier) (int, []byte, error) {
	var version int
	if err := q.QueryRowContext(quiet(ctx), "PRAGMA user_version").Scan(&version); err != nil {
		return 0, nil, err
	}
	if version == 0 {
		return 0, nil, nil
	}
	var check []byte
	err := q.QueryRowContext(quiet(ctx), `SELECT value FROM meta WHERE key = 'key_check'`).Scan(&check)
	if errors.Is(err, sql.ErrNoRows) {
		return version, nil, nil
	}
	return version, check, err
}

// loadKey reads the key file and checks it against the database.
func (s *Store) loadKey(check []byte) error {
	key, err := readKey(s.keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s; the database %s was created with a key, restore that file from a backup", ErrKeyMissing, s.keyPath, s.path)
	}
	if err != nil {
		return err
	}
	if !hmac.Equal(keyCheck(key), check) {
		return fmt.Errorf("%w: %s was not created with %s", ErrWrongKey, s.keyPath, s.path)
	}
	s.aead, err = newAEAD(key)
	return err
}

// wrap adds context to SQLite errors and explains the common ones.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return fmt.Errorf("sqlite: %s: database %s is busy (another process held it longer than busy_timeout): %w", op, s.path, err)
		case sqlite3.ErrCorrupt, sqlite3.ErrNotADB:
			return fmt.Errorf("sqlite: %s: %s is corrupt or not a radmfa database: %w", op, s.path, err)
		case sqlite3.ErrCantOpen, sqlite3.ErrPerm, sqlite3.ErrReadonly:
			return fmt.Errorf("sqlite: %s: cannot write %s (the file and its directory must be writable by the user radmfa runs as, e.g. freerad): %w", op, s.path, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const devicesQuery = `SELECT id, name, kind, algorithm, digits, period, secret, disabled, address, notifier, last_step, drift
		FROM devices WHERE user_id = ?` // sorted in Go: ORDER BY costs a temp b-tree

func (s *Store) devices(ctx context.Context, q queryer, userID int64) ([]mfa.Device, error) {
	rows, err := q.QueryContext(quiet(ctx), devicesQuery, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mfa.Device
	for rows.Next() {
		var id, digits, period, drift int64
		var name, kind, alg, addr, notifier string
		var sealed []byte
		var disabled bool
		var last sql.NullInt64
		if err := rows.Scan(&id, &name, &kind, &alg, &digits, &period, &sealed, &disabled, &addr, &notifier, &last, &drift); err != nil {
			return nil, err
		}
		d, err := s.device(userID, id, name, kind, alg, digits, period, sealed, disabled)
		if err != nil {
			return nil, err
		}
		d.Address, d.Notifier, d.LastStep, d.Drift = addr, notifier, -1, drift
		if last.Valid {
			d.LastStep = last.Int64
		}
		out = append(out, d)
	}
	sortDevices(out)
	return out, rows.Err()
}

// sortDevices orders devices by name, so the engine always tries them in
// the same order. (Sorting the one or two rows here is cheaper than ORDER
// BY, which makes SQLite build a temporary B-tree for every lookup.)
func sortDevices(d []mfa.Device) {
	slices.SortFunc(d, func(a, b mfa.Device) int { return strings.Compare(a.Name, b.Name) })
}

// device builds a device from its columns, decrypting the secret.
func (s *Store) device(userID, id int64, name, kind, alg string, digits, period int64, sealed []byte, disabled bool) (mfa.Device, error) {
	d := mfa.Device{ID: id, UserID: userID, Name: name, Algorithm: alg, Digits: int(digits), Period: int(period), Disabled: disabled}
	var err error
	if d.Kind, err = mfa.ParseDeviceKind(kind); err != nil {
		return mfa.Device{}, fmt.Errorf("device %d: %w", id, err)
	}
	if d.Kind.Delivers() {
		return d, nil // no secret
	}
	if d.Secret, err = s.open(userID, name, sealed); err != nil {
		return mfa.Device{}, fmt.Errorf("device %d: %w", id, err)
	}
	return d, nil
}

func triggerText(t mfa.Trigger) string {
	if t == mfa.TriggerInvalid {
		return ""
	}
	return t.String()
}

// seal encrypts a device secret, bound to its user and device name.
func (s *Store) seal(userID int64, device string, secret mfa.Secret) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("sqlite: nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, secret.Bytes(), deviceAAD(userID, device)), nil
}

// open decrypts a device secret.
func (s *Store) open(userID int64, device string, sealed []byte) (mfa.Secret, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sqlite: sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], deviceAAD(userID, device))
	if err != nil {
		return nil, errors.New("sqlite: cannot decrypt device secret (database altered, or rows copied between users)")
	}
	return mfa.Secret(plain), nil
}

func deviceAAD(userID int64, device string) []byte {
	return fmt.Appendf(nil, "radmfa device v1\x00%d\x00%s", userID, device)
}
