package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

var testSecret = mfa.Secret("12345678901234567890")

func testDevice(name string) mfa.Device {
	return mfa.Device{Name: name, Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: testSecret}
}

func openTest(t *testing.T, dir string, create bool) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: filepath.Join(dir, "radmfa.db")}, Options{Create: create})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesDatabaseAndKey(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, true)
	if s.KeyPath() != filepath.Join(dir, "radmfa.key") {
		t.Fatalf("key path %s", s.KeyPath())
	}
	st, err := os.Stat(s.KeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v; want wal", mode, err)
	}
	s.Close()
	// Reopening without Create works and finds the same key.
	openTest(t, dir, false)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		create  bool
		want    error
		text    string
	}{
		{"no database", func(*testing.T, string) {}, false, ErrNoDatabase, "radmfa user add"},
		{"key file missing", func(t *testing.T, dir string) {
			openTest(t, dir, true).Close()
			os.Remove(filepath.Join(dir, "radmfa.key"))
		}, true, ErrKeyMissing, "restore that file"},
		{"wrong key", func(t *testing.T, dir string) {
			openTest(t, dir, true).Close()
			other := t.TempDir()
			openTest(t, other, true).Close()
			b, _ := os.ReadFile(filepath.Join(other, "radmfa.key"))
			os.WriteFile(filepath.Join(dir, "radmfa.key"), b, 0o600)
		}, false, ErrWrongKey, "was not created with"},
		{"garbage key", func(t *testing.T, dir string) {
			openTest(t, dir, true).Close()
			os.WriteFile(filepath.Join(dir, "radmfa.key"), []byte("hello\n"), 0o600)
		}, false, nil, "not a radmfa key"},
		{"world-readable key", func(t *testing.T, dir string) {
			openTest(t, dir, true).Close()
			os.Chmod(filepath.Join(dir, "radmfa.key"), 0o644)
		}, false, nil, "chmod 600"},
		{"newer schema", func(t *testing.T, dir string) {
			s := openTest(t, dir, true)
			s.db.Exec("PRAGMA user_version = 999")
			s.Close()
		}, false, ErrNewerSchema, "upgrade radmfa"},
		{"not a database", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "radmfa.db"), bytes.Repeat([]byte("garbage!"), 1000), 0o600)
		}, true, nil, "corrupt or not a radmfa database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			_, err := Open(ctx, Config{Path: filepath.Join(dir, "radmfa.db")}, Options{Create: tt.create})
			if err == nil {
				t.Fatal("want error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %q does not say %q", err, tt.text)
			}
		})
	}
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, true)
	if err := s.CreateUser(context.Background(), "test", "bob", testDevice("phone")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{"radmfa.db", "radmfa.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, testSecret) || bytes.Contains(b, []byte("GEZDGNBV")) {
			t.Fatalf("%s contains the plain secret", f)
		}
	}
	s = openTest(t, dir, false)
	devs, err := s.UserDevices(context.Background(), "bob")
	if err != nil || len(devs) != 1 || !bytes.Equal(devs[0].Secret, testSecret) {
		t.Fatalf("devices %v, %v", devs, err)
	}
	// A sealed secret copied to another user's row does not decrypt.
	s.CreateUser(context.Background(), "test", "eve", testDevice("phone"))
	if _, err := s.db.Exec(`UPDATE devices SET secret = (SELECT secret FROM devices WHERE user_id = (SELECT id FROM users WHERE name='bob'))
		WHERE user_id = (SELECT id FROM users WHERE name='eve')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserDevices(context.Background(), "eve"); err == nil || !strings.Contains(err.Error(), "cannot decrypt") {
		t.Fatalf("copied secret: %v", err)
	}
}

func TestEngineOnSQLite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	if err := s.CreateUser(ctx, "test", "bob", testDevice("phone")); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	e, err := mfa.New(s, mfa.Config{Node: "n1"}, mfa.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := mfa.Code(testDevice("phone"), mfa.Step(testDevice("phone"), now))
	req := func(pass string, state []byte) mfa.Decision {
		t.Helper()
		d, err := e.Decide(ctx, mfa.Request{FrontDoor: mfa.FrontDoorExec, UserName: "Bob", Passcode: mfa.Secret(pass), State: state,
			NAS: mfa.NAS{ClientIP: "127.0.0.1", CallingStationID: "10.1.2.3"}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	steps := []struct {
		name   string
		run    func() mfa.Decision
		action mfa.Action
		reason string
	}{
		{"accept", func() mfa.Decision { return req(code, nil) }, mfa.ActionAccept, "OTP accepted"},
		{"replay", func() mfa.Decision { return req(code, nil) }, mfa.ActionReject, "OTP already used"},
		{"wrong", func() mfa.Decision { return req("000000", nil) }, mfa.ActionReject, "wrong OTP"},
		{"challenge then answer", func() mfa.Decision {
			ch := req("", nil)
			if ch.Action != mfa.ActionChallenge {
				t.Fatalf("challenge: %v", ch.Action)
			}
			now = now.Add(30 * time.Second)
			next, _ := mfa.Code(testDevice("phone"), mfa.Step(testDevice("phone"), now))
			d := req(next, ch.State)
			if d.TxID != ch.TxID {
				t.Fatalf("tx %s vs %s", d.TxID, ch.TxID)
			}
			return d
		}, mfa.ActionAccept, "OTP accepted"},
		{"unknown state", func() mfa.Decision { return req("123456", []byte("nope")) }, mfa.ActionReject, "unknown State: never issued, already used or removed"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			d := st.run()
			if d.Action != st.action || d.Reason != st.reason {
				t.Fatalf("got %v %q, want %v %q", d.Action, d.Reason, st.action, st.reason)
			}
		})
	}
	evs, err := s.Events(ctx, EventQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 6 {
		t.Fatalf("%d events, want 6", len(evs))
	}
	last := evs[0]
	if last.Result != mfa.ResultFailure || last.User != "bob" || last.FrontDoor != mfa.FrontDoorExec || last.CallingStationID != "10.1.2.3" || last.Node != "n1" {
		t.Fatalf("newest event %+v", last)
	}
	if evs[len(evs)-1].Result != mfa.ResultSuccess || evs[len(evs)-1].Trigger != mfa.TriggerCode {
		t.Fatalf("oldest event %+v", evs[len(evs)-1])
	}
	page, _ := s.Events(ctx, EventQuery{Limit: 2, BeforeID: evs[1].ID})
	if len(page) != 2 || page[0].ID != evs[2].ID {
		t.Fatalf("paging: %+v", page)
	}
}

func TestUseStepAtomicAcrossConnections(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, true)
	s.CreateUser(ctx, "test", "bob", testDevice("phone"))
	devs, _ := s.UserDevices(ctx, "bob")
	const n = 20
	var wg sync.WaitGroup
	wins := make(chan bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := Open(ctx, Config{Path: filepath.Join(dir, "radmfa.db")}, Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			err = st.Update(ctx, func(tx mfa.Tx) error {
				ok, err := tx.UseStep(ctx, devs[0].ID, 1000)
				wins <- ok
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	count := 0
	for w := range wins {
		if w {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d connections used step 1000, want exactly 1", count)
	}
}

func TestAdmin(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), true)
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"add bob", func() error { return s.CreateUser(ctx, "root", "bob", testDevice("totp1")) }, nil},
		{"add bob again", func() error { return s.CreateUser(ctx, "root", "bob", testDevice("totp1")) }, ErrExists},
		{"add device", func() error { return s.AddDevice(ctx, "root", "bob", testDevice("totp2")) }, nil},
		{"add device twice", func() error { return s.AddDevice(ctx, "root", "bob", testDevice("totp2")) }, ErrExists},
		{"device for nobody", func() error { return s.AddDevice(ctx, "root", "nobody", testDevice("x")) }, mfa.ErrNotFound},
		{"bad device", func() error { d := testDevice("x"); d.Digits = 7; return s.AddDevice(ctx, "root", "bob", d) }, nil},
		{"disable device", func() error { return s.SetDeviceDisabled(ctx, "root", "bob", "totp1", true) }, nil},
		{"disable missing device", func() error { return s.SetDeviceDisabled(ctx, "root", "bob", "zzz", true) }, mfa.ErrNotFound},
		{"disable user", func() error { return s.SetUserDisabled(ctx, "root", "bob", true) }, nil},
		{"enable missing user", func() error { return s.SetUserDisabled(ctx, "root", "nobody", false) }, mfa.ErrNotFound},
		{"remove device", func() error { return s.RemoveDevice(ctx, "root", "bob", "totp2") }, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do()
			if st.name == "bad device" {
				if err == nil || !strings.Contains(err.Error(), "digits") {
					t.Fatalf("got %v, want a digits error", err)
				}
				return
			}
			if !errors.Is(err, st.want) {
				t.Fatalf("got %v, want %v", err, st.want)
			}
		})
	}
	u, err := s.User(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled || len(u.Devices) != 1 || u.Devices[0].Name != "totp1" || !u.Devices[0].Disabled {
		t.Fatalf("user %+v", u)
	}
	audit, err := s.Audit(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action+" "+a.Target)
	}
	want := "device.remove bob/totp2,user.disable bob,device.disable bob/totp1,device.add bob/totp2,user.add bob"
	if got := strings.Join(actions, ","); got != want {
		t.Fatalf("audit\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(audit[len(audit)-1].Details, "totp SHA1, 6 digits") {
		t.Fatalf("details %q", audit[len(audit)-1].Details)
	}
	if err := s.RemoveUser(ctx, "root", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.User(ctx, "bob"); !errors.Is(err, mfa.ErrNotFound) {
		t.Fatalf("removed user: %v", err)
	}
	var n int
	s.db.QueryRow("SELECT count(*) FROM devices").Scan(&n)
	if n != 0 {
		t.Fatalf("%d devices left after removing the user", n)
	}
}

func TestOwnershipWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o750)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dir, true)
	s.CreateUser(context.Background(), "root", "bob", testDevice("totp1"))
	s.Close()
	for _, f := range []string{"radmfa.db", "radmfa.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("%s owned by %d, want 65534 (the directory's owner)", f, uid)
		}
	}
}

// TestManyProcessesRaceToCreate starts 50 processes that all open a database
// that does not exist yet and each write events; every event must be there.
func TestManyProcessesRaceToCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "sub", "radmfa.db")
	const procs, each = 50, 5
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "RADMFA_HELPER_DB="+db, "RADMFA_HELPER_N="+strconv.Itoa(each), "RADMFA_HELPER_ID="+strconv.Itoa(i))
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		cmds[i] = cmd
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	s := openTest(t, filepath.Dir(db), false)
	var n int
	if err := s.db.QueryRow("SELECT count(DISTINCT tx_id) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != procs*each {
		t.Fatalf("%d events stored, want %d", n, procs*each)
	}
}

func TestHelperProcess(t *testing.T) {
	db := os.Getenv("RADMFA_HELPER_DB")
	if db == "" {
		t.Skip("helper for TestManyProcessesRaceToCreate")
	}
	n, _ := strconv.Atoi(os.Getenv("RADMFA_HELPER_N"))
	id := os.Getenv("RADMFA_HELPER_ID")
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: db, BusyTimeout: mfa.Duration(30 * time.Second)}, Options{Create: true})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer s.Close()
	for i := 0; i < n; i++ {
		err := s.Update(ctx, func(tx mfa.Tx) error {
			return tx.AddEvent(ctx, mfa.Event{Time: time.Now(), TxID: id + "-" + strconv.Itoa(i), User: "race",
				Result: mfa.ResultFailure, FrontDoor: mfa.FrontDoorExec, Message: "race"})
		})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
	}
}

func TestBusyWaitEndsWithContext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	holder := openTest(t, dir, true)
	lock, err := holder.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "radmfa.db"), BusyTimeout: mfa.Duration(30 * time.Second)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Update(cctx, func(mfa.Tx) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %s for a context of 300ms", d)
	}
	// Without a deadline, the busy timeout applies and says so.
	s2, _ := Open(ctx, Config{Path: filepath.Join(dir, "radmfa.db"), BusyTimeout: mfa.Duration(500 * time.Millisecond)}, Options{})
	defer s2.Close()
	err = s2.Update(ctx, func(mfa.Tx) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("got %v, want a busy error", err)
	}
}

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if n := len(migrations()); n != SchemaVersion {
		t.Fatalf("SchemaVersion = %d but there are %d migrations: update the constant", SchemaVersion, n)
	}
}
