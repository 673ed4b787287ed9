package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mfatest"
)

// fakeDir is a directory and first-factor check in memory.
type fakeDir struct {
	mu        sync.Mutex
	users     map[string]mfa.DirectoryUser
	passwords map[string]string
	err       error // every lookup fails with it
	pwErr     error // every password check fails with it
	lookups   int
	checks    int
}

func (d *fakeDir) LookupUser(_ context.Context, name string) (mfa.DirectoryUser, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if d.err != nil {
		return mfa.DirectoryUser{}, d.err
	}
	u, ok := d.users[name]
	if !ok {
		return mfa.DirectoryUser{}, fmt.Errorf("fake: %q: %w", name, mfa.ErrNotFound)
	}
	return u, nil
}

func (d *fakeDir) CheckPassword(_ context.Context, name string, pw mfa.Secret) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checks++
	if d.pwErr != nil {
		return d.pwErr
	}
	want, ok := d.passwords[name]
	switch {
	case !ok:
		return fmt.Errorf("fake: %q: %w (%w)", name, mfa.ErrNotFound, mfa.ErrBadCredentials)
	case want != pw.Reveal():
		return fmt.Errorf("fake: %q: %w", name, mfa.ErrBadCredentials)
	}
	return nil
}

// dirStore adds mfa.DirectoryState to the in-memory store, with state of
// its own that a failed transaction rolls back.
type dirStore struct {
	*mfatest.Store
	mu      sync.Mutex
	rows    map[string]mfa.DirectoryDevice // by user id and key
	created map[string]mfa.User            // users EnsureDirectoryUser made
	nextID  int64
}

func newDirStore() *dirStore {
	return &dirStore{Store: mfatest.NewStore(), rows: map[string]mfa.DirectoryDevice{}, created: map[string]mfa.User{}}
}

func (s *dirStore) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, created, next := maps.Clone(s.rows), maps.Clone(s.created), s.nextID
	err := s.Store.Update(ctx, func(tx mfa.Tx) error { return fn(&dirStoreTx{Tx: tx, s: s}) })
	if err != nil {
		s.rows, s.created, s.nextID = rows, created, next
	}
	return err
}

type dirStoreTx struct {
	mfa.Tx
	s *dirStore
}

func (t *dirStoreTx) EnsureDirectoryUser(ctx context.Context, name string, _ time.Time) (mfa.User, error) {
	u, err := t.LookupUser(ctx, name)
	if !errors.Is(err, mfa.ErrNotFound) {
		return u, err
	}
	if u, ok := t.s.created[name]; ok {
		return u, nil
	}
	u = mfa.User{ID: 10000 + int64(len(t.s.created)), Name: name}
	t.s.created[name] = u
	return u, nil
}

func (t *dirStoreTx) LookupUser(ctx context.Context, name string) (mfa.User, error) {
	u, err := t.Tx.LookupUser(ctx, name)
	if errors.Is(err, mfa.ErrNotFound) {
		if c, ok := t.s.created[name]; ok {
			return c, nil
		}
	}
	return u, err
}

func (t *dirStoreTx) DirectoryDevices(_ context.Context, userID int64, devs []mfa.DirectoryDevice, _ time.Time) ([]mfa.DirectoryDevice, error) {
	out := make([]mfa.DirectoryDevice, len(devs))
	keep := map[string]bool{}
	for i, d := range devs {
		k := fmt.Sprintf("%d/%x", userID, d.Key)
		keep[k] = true
		row, ok := t.s.rows[k]
		if !ok {
			t.s.nextID++
			row = mfa.DirectoryDevice{Key: d.Key, Name: d.Name, Kind: d.Kind, ID: t.s.nextID, LastStep: -1}
			t.s.rows[k] = row
		}
		out[i] = row
	}
	prefix := fmt.Sprintf("%d/", userID)
	for k := range t.s.rows {
		if strings.HasPrefix(k, prefix) && !keep[k] {
			delete(t.s.rows, k)
		}
	}
	return out, nil
}

func (t *dirStoreTx) row(id int64) (string, mfa.DirectoryDevice) {
	for k, r := range t.s.rows {
		if r.ID == id {
			return k, r
		}
	}
	return "", mfa.DirectoryDevice{}
}

func (t *dirStoreTx) UseDirectoryStep(_ context.Context, id, step int64) (bool, error) {
	k, r := t.row(id)
	if k == "" {
		return false, mfa.ErrNotFound
	}
	if r.LastStep >= step {
		return false, nil
	}
	r.LastStep = step
	t.s.rows[k] = r
	return true, nil
}

func (t *dirStoreTx) SyncDirectoryDevice(_ context.Context, id, last, drift int64) error {
	k, r := t.row(id)
	if k == "" {
		return mfa.ErrNotFound
	}
	r.LastStep, r.Drift = last, drift
	t.s.rows[k] = r
	return nil
}

// Test groups.
const (
	groupAdmins = "cn=admins,ou=groups,dc=example,dc=test"
	groupMFA    = "cn=MFA Users, ou=Groups, dc=example, dc=test"
)

type dirFixture struct {
	engine   *mfa.Engine
	store    *dirStore
	dir      *fakeDir
	clock    *mfatest.Clock
	notifier *mfatest.Notifier
	// Devices in the directory.
	zoePhone, bobTablet mfa.Device
}

// newDirFixture: zoe's devices are all in the directory (TOTP, phone,
// e-mail, groups), the store has her record; yan exists only in the
// directory; bob is local with a phone and has a tablet in the directory;
// ned is in the directory without devices; local-only alice.
func newDirFixture(t *testing.T, cfg mfa.Config, opts ...mfa.Option) *dirFixture {
	t.Helper()
	f := &dirFixture{store: newDirStore(), clock: mfatest.NewClock(t0), notifier: &mfatest.Notifier{},
		zoePhone: totp("Phone", secretA), bobTablet: totp("ldap1", secretB)}
	f.store.AddUser("bob", false, totp("phone", secretA))
	f.store.AddUser("alice", false, totp("phone", secretA))
	f.store.AddUser("zoe", false) // the in-memory store's lockout needs a record
	f.dir = &fakeDir{
		users: map[string]mfa.DirectoryUser{
			"zoe": {DN: "uid=zoe,ou=people,dc=example,dc=test", Devices: []mfa.Device{f.zoePhone},
				Phone: "+447700900456", Email: "zoe@example.test", Groups: []string{"CN=Admins,OU=Groups,DC=example,DC=test", "cn=mfa users,ou=groups,dc=example,dc=test"}},
			"bob": {DN: "uid=bob,ou=people,dc=example,dc=test", Devices: []mfa.Device{f.bobTablet}},
			"ned": {DN: "uid=ned,ou=people,dc=example,dc=test"},
			"yan": {DN: "uid=yan,ou=people,dc=example,dc=test", Devices: []mfa.Device{f.zoePhone}},
		},
		passwords: map[string]string{"zoe": "zoe-pw", "bob": "bob-pw", "ned": "ned-pw"},
	}
	cfg.Node = "node1"
	all := append([]mfa.Option{mfa.WithClock(f.clock.Now), mfa.WithNotifier(f.notifier),
		mfa.WithDirectory(f.dir, mfa.DirectoryOptions{SMSNotifier: "sms", EmailNotifier: "smtp"}), mfa.WithFirstFactor(f.dir)}, opts...)
	e, err := mfa.New(f.store, cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	f.engine = e
	return f
}

func (f *dirFixture) decide(t *testing.T, user, pass string, state []byte) mfa.Decision {
	t.Helper()
	d, err := f.engine.Decide(context.Background(), mfa.Request{
		FrontDoor: mfa.FrontDoorREST, UserName: user, Passcode: mfa.Secret(pass), State: state,
		NAS: mfa.NAS{ClientName: "vpn", ClientIP: "127.0.0.1", Identifier: "gw1"},
	})
	if err != nil {
		t.Fatalf("Decide(%q): %v", user, err)
	}
	return d
}

func (f *dirFixture) last(t *testing.T) mfa.Event {
	t.Helper()
	ev := f.store.Events()
	if len(ev) == 0 {
		t.Fatal("no event")
	}
	return ev[len(ev)-1]
}

// expect checks a decision and its last event.
func (f *dirFixture) expect(t *testing.T, d mfa.Decision, action mfa.Action, msg, event string) {
	t.Helper()
	ev := f.last(t)
	if d.Action != action || (msg != "" && d.Message != msg) || !strings.Contains(ev.Message, event) {
		t.Fatalf("got %v %q, event %q; want %v %q, event containing %q", d.Action, d.Message, ev.Message, action, msg, event)
	}
}

func vpnProfile(p mfa.Profile) mfa.Profile {
	if p.Name == "" {
		p.Name = "vpn"
	}
	p.Clients = []string{"vpn"}
	return p
}

func TestDirectoryDevices(t *testing.T) {
	t.Run("devices only in the directory", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		c := code(t, f.zoePhone, t0, 0)
		f.expect(t, f.decide(t, "ZOE", c, nil), mfa.ActionAccept, "", "OTP accepted")
		if ev := f.last(t); ev.Device != "Phone" || ev.User != "zoe" {
			t.Fatalf("event device %q user %q", ev.Device, ev.User)
		}
		f.expect(t, f.decide(t, "zoe", c, nil), mfa.ActionReject, mfa.MsgCodeUsed, "OTP already used")
	})
	t.Run("user only in the directory gets a record", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		f.expect(t, f.decide(t, "yan", code(t, f.zoePhone, t0, 0), nil), mfa.ActionAccept, "", "OTP accepted")
		if _, ok := f.store.created["yan"]; !ok {
			t.Fatal("no store record made for the directory user")
		}
	})
	t.Run("local and directory devices coexist", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		f.expect(t, f.decide(t, "bob", code(t, totp("phone", secretA), t0, 0), nil), mfa.ActionAccept, "", "OTP accepted")
		f.expect(t, f.decide(t, "bob", code(t, f.bobTablet, t0, 0), nil), mfa.ActionAccept, "", "OTP accepted")
		if ev := f.last(t); ev.Device != "ldap1" {
			t.Fatalf("device %q, want the directory's ldap1", ev.Device)
		}
	})
	t.Run("directory resync keeps drift in the store", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		d := f.decide(t, "zoe", code(t, f.zoePhone, t0, 3), nil)
		f.expect(t, d, mfa.ActionChallenge, mfa.MsgResync, "enter the next code")
		f.expect(t, f.decide(t, "zoe", code(t, f.zoePhone, t0, 4), d.State), mfa.ActionAccept, "", "token resynchronised (drift +4 steps)")
		f.clock.Advance(2 * time.Minute)
		// With the drift learnt, a code 4 steps ahead is now the
		// current one.
		f.expect(t, f.decide(t, "zoe", code(t, f.zoePhone, t0.Add(2*time.Minute), 4), nil), mfa.ActionAccept, "", "OTP accepted")
	})
	t.Run("SMS to the directory's phone", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		d := f.decide(t, "zoe", "s", nil)
		f.expect(t, d, mfa.ActionChallenge, "Enter the code sent to +44…56", "sms code sent")
		msgs := f.notifier.Messages()
		if len(msgs) != 1 || msgs[0].To != "+447700900456" || msgs[0].Notifier != "sms" {
			t.Fatalf("sent %+v", msgs)
		}
		f.expect(t, f.decide(t, "zoe", msgs[0].Code.Reveal(), d.State), mfa.ActionAccept, "", "sms code accepted")
		if ev := f.last(t); ev.Device != mfa.DirectorySMSDevice {
			t.Fatalf("device %q", ev.Device)
		}
	})
	t.Run("e-mail to the directory's address", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		f.expect(t, f.decide(t, "zoe", "e", nil), mfa.ActionChallenge, "Enter the code sent to z…@example.test", "email code sent")
		if msgs := f.notifier.Messages(); len(msgs) != 1 || msgs[0].Notifier != "smtp" {
			t.Fatalf("sent %+v", msgs)
		}
	})
	t.Run("directory user without devices is unknown", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		f.expect(t, f.decide(t, "ned", "123456", nil), mfa.ActionReject, mfa.MsgFailed, "unknown user")
		f2 := newDirFixture(t, mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{UnknownUser: "accept"})}})
		f2.expect(t, f2.decide(t, "ned", "", nil), mfa.ActionAccept, "", "unknown user accepted")
	})
	t.Run("a removed device loses its state", func(t *testing.T) {
		f := newDirFixture(t, mfa.Config{})
		f.decide(t, "zoe", code(t, f.zoePhone, t0, 0), nil)
		u := f.dir.users["zoe"]
		u.Devices = nil
		f.dir.users["zoe"] = u
		f.decide(t, "zoe", "000000", nil)
		for _, r := range f.store.rows {
			if r.Kind == mfa.DeviceTOTP {
				t.Fatalf("state of the removed device is still there: %+v", r)
			}
		}
	})
}

func TestDirectoryDown(t *testing.T) {
	down := fmt.Errorf("ldapdir: connect: %w: connection refused", mfa.ErrBackendDown)
	untrusted := fmt.Errorf("ldapdir: connect: %w (%w): x509: certificate has expired", mfa.ErrBackendDown, mfa.ErrBackendUntrusted)
	data := fmt.Errorf("ldapdir: user \"zoe\": radmfaSecret: %w", mfa.ErrDirectoryData)
	tests := []struct {
		name    string
		profile mfa.Profile
		err     error
		action  mfa.Action
		msg     string
		event   string
	}{
		{"down, secure", mfa.Profile{}, down, mfa.ActionReject, mfa.MsgUnavailable, "directory unavailable: ldapdir: connect: mfa: backend unavailable: connection refused; fail mode secure: rejected"},
		{"down, open", mfa.Profile{FailMode: mfa.FailOpen}, down, mfa.ActionAccept, "", "fail mode open: accepted"},
		{"TLS failure never fails open", mfa.Profile{FailMode: mfa.FailOpen}, untrusted, mfa.ActionReject, mfa.MsgUnavailable, "certificate has expired (a TLS failure never fails open)"},
		{"unusable data", mfa.Profile{FailMode: mfa.FailOpen}, data, mfa.ActionReject, mfa.MsgFailed, "unusable directory data"},
		{"down, password not checked", mfa.Profile{FailMode: mfa.FailOpen, Grammar: mfa.GrammarAppend}, down, mfa.ActionReject, mfa.MsgUnavailable, "password not checked"},
		{"down, open, but a group profile is secure", mfa.Profile{FailMode: mfa.FailOpen}, down, mfa.ActionReject, mfa.MsgUnavailable, "fail mode secure: rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profiles := []mfa.Profile{vpnProfile(tt.profile)}
			if strings.Contains(tt.name, "group profile") {
				profiles = append([]mfa.Profile{vpnProfile(mfa.Profile{Name: "admins", Groups: []string{groupAdmins}})}, profiles...)
			}
			f := newDirFixture(t, mfa.Config{Profiles: profiles})
			f.dir.err = tt.err
			f.expect(t, f.decide(t, "zoe", "zoe-pw123456", nil), tt.action, tt.msg, tt.event)
			if f.dir.checks != 0 {
				t.Fatal("the password was sent to a directory that is down")
			}
		})
	}
}

func TestGrammars(t *testing.T) {
	suffix := mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarSuffix})}}
	appendG := mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarAppend})}}
	zoeCode := func(t *testing.T) string { return code(t, totp("Phone", secretA), t0, 0) }
	tests := []struct {
		name   string
		cfg    mfa.Config
		user   string
		typed  func(t *testing.T) string
		pwErr  error
		action mfa.Action
		msg    string
		event  string
	}{
		{"append right password and code", appendG, "zoe", func(t *testing.T) string { return "zoe-pw" + zoeCode(t) }, nil, mfa.ActionAccept, "", "OTP accepted"},
		{"append wrong password", appendG, "zoe", func(t *testing.T) string { return "nope" + zoeCode(t) }, nil, mfa.ActionReject, mfa.MsgFailed, "wrong password"},
		{"append no password", appendG, "zoe", zoeCode, nil, mfa.ActionReject, mfa.MsgFailed, "no password typed (grammar append)"},
		{"append password only: fallback", appendG, "zoe", func(*testing.T) string { return "zoe-pw" }, nil, mfa.ActionChallenge, "Enter the code sent to +44…56", "sms code sent"},
		{"append wrong code", appendG, "zoe", func(*testing.T) string { return "zoe-pw000000" }, nil, mfa.ActionReject, mfa.MsgFailed, "wrong OTP"},
		{"append unknown user", appendG, "mallory", func(*testing.T) string { return "x123456" }, nil, mfa.ActionReject, mfa.MsgFailed, "unknown user (password check: not in the directory)"},
		{"append local-only user has no password source", appendG, "alice", func(t *testing.T) string { return "pw" + zoeCode(t) }, nil, mfa.ActionReject, mfa.MsgFailed, "unknown user"},
		{"suffix code", suffix, "zoe", func(t *testing.T) string { return "zoe-pw," + zoeCode(t) }, nil, mfa.ActionAccept, "", "OTP accepted"},
		{"suffix sms", suffix, "zoe", func(*testing.T) string { return "zoe-pw,sms" }, nil, mfa.ActionChallenge, "Enter the code sent to +44…56", "sms code sent"},
		{"suffix email", suffix, "zoe", func(*testing.T) string { return "zoe-pw,email" }, nil, mfa.ActionChallenge, "Enter the code sent to z…@example.test", "email code sent"},
		{"suffix wrong password", suffix, "zoe", func(t *testing.T) string { return "zoe-px," + zoeCode(t) }, nil, mfa.ActionReject, mfa.MsgFailed, "wrong password"},
		{"suffix password with the delimiter", suffix, "zoe", func(t *testing.T) string { return "zoe,pw," + zoeCode(t) }, nil, mfa.ActionReject, mfa.MsgFailed, "wrong password"},
		{"AD 775 locked", appendG, "zoe", func(t *testing.T) string { return "zoe-pw" + zoeCode(t) },
			&mfa.RestrictedError{Restriction: mfa.RestrictionLocked, Reason: "account locked (AD 775)"}, mfa.ActionReject, mfa.MsgDirectoryLocked, "account locked (AD 775)"},
		{"AD 532 expired", appendG, "zoe", func(t *testing.T) string { return "zoe-pw" + zoeCode(t) },
			&mfa.RestrictedError{Restriction: mfa.RestrictionPasswordExpired, Reason: "password expired (AD 532)"}, mfa.ActionReject, mfa.MsgPasswordExpired, "password expired (AD 532)"},
		{"AD 773 must change", appendG, "zoe", func(t *testing.T) string { return "zoe-pw" + zoeCode(t) },
			&mfa.RestrictedError{Restriction: mfa.RestrictionMustChange, Reason: "must change password (AD 773)"}, mfa.ActionReject, mfa.MsgMustChangePasswd, "must change password (AD 773)"},
		{"AD 533 disabled", appendG, "zoe", func(t *testing.T) string { return "zoe-pw" + zoeCode(t) },
			&mfa.RestrictedError{Restriction: mfa.RestrictionOther, Reason: "account disabled (AD 533)"}, mfa.ActionReject, mfa.MsgFailed, "account disabled (AD 533)"},
		{"bind fails: never open", mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarAppend, FailMode: mfa.FailOpen})}}, "zoe",
			func(t *testing.T) string { return "zoe-pw" + zoeCode(t) }, fmt.Errorf("bind: %w", mfa.ErrBackendDown), mfa.ActionReject, mfa.MsgUnavailable, "password could not be checked"},
		{"safenet ignores passwords", mfa.Config{}, "zoe", zoeCode, nil, mfa.ActionAccept, "", "OTP accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDirFixture(t, tt.cfg)
			f.dir.pwErr = tt.pwErr
			typed := tt.typed(t)
			d := f.decide(t, tt.user, typed, nil)
			f.expect(t, d, tt.action, tt.msg, tt.event)
			for _, ev := range f.store.Events() {
				assertNoSecret(t, ev, typed)
				if strings.Contains(ev.Message, "zoe-pw") {
					t.Fatalf("the password is in the event: %q", ev.Message)
				}
			}
		})
	}
}

// TestGrammarChallengeAnswer: after the password was checked with the
// first request, the answer to the challenge is the code alone.
func TestGrammarChallengeAnswer(t *testing.T) {
	f := newDirFixture(t, mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarSuffix})}})
	d := f.decide(t, "zoe", "zoe-pw,sms", nil)
	if d.Action != mfa.ActionChallenge {
		t.Fatalf("got %v %s", d.Action, d.Reason)
	}
	checks := f.dir.checks
	f.expect(t, f.decide(t, "zoe", f.notifier.Messages()[0].Code.Reveal(), d.State), mfa.ActionAccept, "", "sms code accepted")
	if f.dir.checks != checks {
		t.Fatal("the challenge answer was checked as a password")
	}
}

// TestWrongPasswordLocksOut: wrong passwords count toward radmfa's
// lockout like wrong codes.
func TestWrongPasswordLocksOut(t *testing.T) {
	f := newDirFixture(t, mfa.Config{Lockout: mfa.LockoutConfig{Failures: 2},
		Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarAppend})}})
	c := code(t, totp("phone", secretA), t0, 0)
	f.expect(t, f.decide(t, "bob", "wrong"+c, nil), mfa.ActionReject, mfa.MsgFailed, "wrong password")
	f.expect(t, f.decide(t, "bob", "wrong2"+c, nil), mfa.ActionReject, mfa.MsgFailed, "account locked")
	f.expect(t, f.decide(t, "bob", "bob-pw"+c, nil), mfa.ActionReject, mfa.MsgLocked, "account locked")
}

func TestGroups(t *testing.T) {
	cfg := mfa.Config{Profiles: []mfa.Profile{
		vpnProfile(mfa.Profile{Name: "admins", Groups: []string{groupAdmins}, Resource: "admin VPN", Grammar: mfa.GrammarAppend}),
		vpnProfile(mfa.Profile{Name: "everyone", Resource: "VPN", MFAGroups: []string{groupMFA}}),
	}}
	f := newDirFixture(t, cfg)
	// zoe is an admin: the admins profile, whose grammar wants her password.
	f.expect(t, f.decide(t, "zoe", "zoe-pw"+code(t, f.zoePhone, t0, 0), nil), mfa.ActionAccept, "", "OTP accepted")
	if ev := f.last(t); ev.Resource != "admin VPN" {
		t.Fatalf("resource %q, want the admins profile's", ev.Resource)
	}
	// bob is no admin, and not in the MFA group: accepted without a code.
	f.expect(t, f.decide(t, "bob", "", nil), mfa.ActionAccept, "", "no second factor required: not in the mfa_groups of profile everyone")
	if ev := f.last(t); ev.Resource != "VPN" {
		t.Fatalf("resource %q", ev.Resource)
	}
	// alice is not in the directory: local users always need a code.
	f.expect(t, f.decide(t, "alice", "000000", nil), mfa.ActionReject, mfa.MsgFailed, "wrong OTP")
}

func TestNewRefusesWhatItCannotDo(t *testing.T) {
	tests := []struct {
		name string
		p    mfa.Profile
		opts []mfa.Option
		want string
	}{
		{"append without first factor", mfa.Profile{Grammar: mfa.GrammarAppend}, nil, "carries the password"},
		{"suffix without first factor", mfa.Profile{Grammar: mfa.GrammarSuffix}, []mfa.Option{mfa.WithDirectory(&fakeDir{}, mfa.DirectoryOptions{})}, "no first-factor check"},
		{"groups without directory", mfa.Profile{Groups: []string{groupAdmins}}, []mfa.Option{mfa.WithFirstFactor(&fakeDir{})}, "need a directory"},
		{"mfa_groups without directory", mfa.Profile{MFAGroups: []string{groupAdmins}}, nil, "need a directory"},
		{"group that is no DN", mfa.Profile{Groups: []string{"admins"}}, []mfa.Option{mfa.WithDirectory(&fakeDir{}, mfa.DirectoryOptions{})}, `"admins" is not a group's DN`},
		{"users on a group profile", mfa.Profile{Groups: []string{groupAdmins}, Users: &mfa.UserNames{}}, []mfa.Option{mfa.WithDirectory(&fakeDir{}, mfa.DirectoryOptions{})}, "users cannot be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mfa.New(mfatest.NewStore(), mfa.Config{Profiles: []mfa.Profile{vpnProfile(tt.p)}}, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	first, dir := mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Name: "a", Grammar: mfa.GrammarSuffix}), vpnProfile(mfa.Profile{Name: "b", MFAGroups: []string{groupAdmins}})}}.DirectoryNeeds()
	if strings.Join(first, ",") != "a" || strings.Join(dir, ",") != "b" {
		t.Fatalf("DirectoryNeeds = %q, %q", first, dir)
	}
}

func TestVerifyCode(t *testing.T) {
	f := newDirFixture(t, mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarAppend, MFAGroups: []string{"cn=nobody,dc=x"}})}})
	verify := func(user, c string) mfa.Decision {
		t.Helper()
		d, err := f.engine.VerifyCode(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorSelfService, UserName: user,
			Passcode: mfa.Secret(c), NAS: mfa.NAS{ClientName: "self-service"}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	c := code(t, f.zoePhone, t0, 0)
	// Neither the grammar nor mfa_groups of a profile apply.
	f.expect(t, verify("zoe", c), mfa.ActionAccept, "", "OTP accepted")
	if ev := f.last(t); ev.FrontDoor != mfa.FrontDoorSelfService || ev.Device != "Phone" {
		t.Fatalf("event %+v", ev)
	}
	f.expect(t, verify("zoe", c), mfa.ActionReject, mfa.MsgCodeUsed, "OTP already used")
	f.expect(t, verify("zoe", "s"), mfa.ActionReject, mfa.MsgFailed, "not a code")
	f.expect(t, verify("zoe", code(t, f.zoePhone, t0, 5)), mfa.ActionReject, mfa.MsgFailed, "enter the next code")
	f.expect(t, verify("ned", "123456"), mfa.ActionReject, mfa.MsgFailed, "unknown user")
	f.expect(t, verify("bob", code(t, f.bobTablet, t0, 0)), mfa.ActionAccept, "", "OTP accepted")
	f.dir.err = fmt.Errorf("x: %w", mfa.ErrBackendDown)
	f.expect(t, verify("zoe", code(t, f.zoePhone, t0, 1)), mfa.ActionReject, mfa.MsgUnavailable, "directory: x")
}

// TestGrammarMSCHAP: MS-CHAPv2 carries only a hash of what was typed, so a
// grammar that carries the password refuses it (without counting toward
// lockout).
func TestGrammarMSCHAP(t *testing.T) {
	f := newDirFixture(t, mfa.Config{Profiles: []mfa.Profile{vpnProfile(mfa.Profile{Grammar: mfa.GrammarAppend})}})
	d, err := f.engine.Decide(context.Background(), mfa.Request{FrontDoor: mfa.FrontDoorNTLMAuth, UserName: "bob",
		MSCHAP: &mfa.MSCHAPv2{}, NAS: mfa.NAS{ClientName: "vpn"}})
	if err != nil {
		t.Fatal(err)
	}
	f.expect(t, d, mfa.ActionReject, mfa.MsgFailed, "MS-CHAPv2 hides the password, which grammar append carries")
	if u := f.store.User("bob"); u.Failures != 0 {
		t.Fatalf("%d failures counted", u.Failures)
	}
}
