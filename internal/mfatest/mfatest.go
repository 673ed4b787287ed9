// Package mfatest provides fakes for testing code that uses the mfa engine:
// an in-memory Store with real transaction semantics and a settable clock.
package mfatest

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Clock is a settable clock for tests. The zero value is not usable; use
// NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Store is an in-memory mfa.Store. Update runs transactions one at a time
// and rolls back everything a failed transaction did.
type Store struct {
	mu    sync.Mutex
	state state
	// FailNext, if set, makes the next Update fail with this error after fn
	// ran (to test that nothing of the transaction is kept).
	FailNext error
}

type state struct {
	users      map[string]mfa.User
	devices    map[int64][]mfa.Device
	steps      map[int64]int64
	challenges map[string]mfa.Challenge
	events     []mfa.Event
	pushes     []mfa.Push
	sends      []send
	failKeys   map[int64]string
	nextID     int64
}

type send struct {
	user string
	at   time.Time
}

func (s state) clone() state {
	c := state{
		users:      maps.Clone(s.users),
		devices:    make(map[int64][]mfa.Device, len(s.devices)),
		steps:      maps.Clone(s.steps),
		challenges: maps.Clone(s.challenges),
		events:     slices.Clone(s.events),
		pushes:     slices.Clone(s.pushes),
		sends:      slices.Clone(s.sends),
		failKeys:   maps.Clone(s.failKeys),
		nextID:     s.nextID,
	}
	for k, v := range s.devices {
		c.devices[k] = slices.Clone(v)
	}
	return c
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{state: state{
		users:      map[string]mfa.User{},
		devices:    map[int64][]mfa.Device{},
		steps:      map[int64]int64{},
		challenges: map[string]mfa.Challenge{},
		failKeys:   map[int64]string{},
	}}
}

var _ mfa.Store = (*Store)(nil)

// Update implements mfa.Store.
func (s *Store) Update(ctx context.Context, fn func(mfa.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	tx := &tx{st: s.state.clone()}
	if err := fn(tx); err != nil {
		return err
	}
	if err := s.FailNext; err != nil {
		s.FailNext = nil
		return err
	}
	s.state = tx.st
	return nil
}

// AddUser adds a user with devices and returns the user's id. Device ids are
// assigned in order.
func (s *Store) AddUser(name string, disabled bool, devices ...mfa.Device) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.nextID++
	u := mfa.User{ID: s.state.nextID, Name: name, Disabled: disabled}
	s.state.users[name] = u
	for _, d := range devices {
		s.state.nextID++
		d.ID, d.UserID = s.state.nextID, u.ID
		if d.LastStep == 0 {
			d.LastStep = -1
		}
		s.state.devices[u.ID] = append(s.state.devices[u.ID], d)
	}
	return u.ID
}

// SetUser replaces a stored user's fields (lockout, bypass) by name.
func (s *Store) SetUser(u mfa.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.users[u.Name]
	u.ID = old.ID
	s.state.users[u.Name] = u
}

// Device returns a stored device by user and name.
func (s *Store) Device(user, name string) mfa.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.state.devices[s.state.users[user].ID] {
		if d.Name == name {
			if last, ok := s.state.steps[d.ID]; ok {
				d.LastStep = last
			}
			return d
		}
	}
	return mfa.Device{}
}

// Events returns a copy of the recorded events, oldest first.
func (s *Store) Events() []mfa.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.state.events)
}

// Pushes returns a copy of the stored pushes, oldest first.
func (s *Store) Pushes() []mfa.Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.state.pushes)
}

// User returns a stored user.
func (s *Store) User(name string) mfa.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.users[name]
}

// PushOutcome reads a push's outcome (for a Broker).
func (s *Store) PushOutcome(_ context.Context, id int64) (mfa.PushOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.state.pushes {
		if p.ID == id {
			return p.Outcome, nil
		}
	}
	return "", mfa.ErrNotFound
}

// Challenges returns how many challenges are stored.
func (s *Store) Challenges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.state.challenges)
}

type tx struct{ st state }

var _ mfa.Tx = (*tx)(nil)

func (t *tx) LookupUser(_ context.Context, name string) (mfa.User, error) {
	u, ok := t.st.users[name]
	if !ok {
		return mfa.User{}, mfa.ErrNotFound
	}
	return u, nil
}

func (t *tx) Devices(_ context.Context, userID int64) ([]mfa.Device, error) {
	ds := slices.Clone(t.st.devices[userID])
	for i, d := range ds {
		if last, ok := t.st.steps[d.ID]; ok {
			ds[i].LastStep = last
		}
	}
	return ds, nil
}

func (t *tx) SyncDevice(_ context.Context, id, last, drift int64) error {
	t.st.steps[id] = last
	for uid, ds := range t.st.devices {
		for i, d := range ds {
			if d.ID == id {
				ds = slices.Clone(ds)
				ds[i].Drift = drift
				t.st.devices[uid] = ds
			}
		}
	}
	return nil
}

func (t *tx) UseBypassCode(_ context.Context, id int64) error {
	k, u := t.user(id)
	if k != "" {
		u.BypassCode, u.BypassCodeExpires = nil, time.Time{}
		t.st.users[k] = u
	}
	return nil
}

func (t *tx) RecordCodeSend(_ context.Context, user string, _ mfa.Method, at time.Time) error {
	t.st.sends = append(t.st.sends, send{user, at})
	return nil
}

func (t *tx) CountCodeSends(_ context.Context, user string, since time.Time) (int, error) {
	n := 0
	for _, s := range t.st.sends {
		if s.user == user && s.at.After(since) {
			n++
		}
	}
	return n, nil
}

func (t *tx) UseStep(_ context.Context, deviceID, step int64) (bool, error) {
	if last, ok := t.st.steps[deviceID]; ok && last >= step {
		return false, nil
	}
	t.st.steps[deviceID] = step
	return true, nil
}

func (t *tx) PutChallenge(_ context.Context, c mfa.Challenge) error {
	t.st.challenges[string(c.Key)] = c
	return nil
}

func (t *tx) TakeChallenge(_ context.Context, key []byte) (mfa.Challenge, error) {
	for k, c := range t.st.challenges {
		if bytes.Equal([]byte(k), key) {
			delete(t.st.challenges, k)
			return c, nil
		}
	}
	return mfa.Challenge{}, mfa.ErrNotFound
}

func (t *tx) AddEvent(_ context.Context, e mfa.Event) error {
	t.st.events = append(t.st.events, e)
	return nil
}

func (t *tx) CreatePush(_ context.Context, p mfa.Push) (int64, error) {
	t.st.nextID++
	p.ID = t.st.nextID
	t.st.pushes = append(t.st.pushes, p)
	return p.ID, nil
}

func (t *tx) find(pred func(mfa.Push) bool) (mfa.Push, error) {
	for _, p := range t.st.pushes {
		if pred(p) {
			return p, nil
		}
	}
	return mfa.Push{}, mfa.ErrNotFound
}

func (t *tx) PushByID(_ context.Context, id int64) (mfa.Push, error) {
	return t.find(func(p mfa.Push) bool { return p.ID == id })
}

func (t *tx) PushByToken(_ context.Context, h []byte) (mfa.Push, error) {
	return t.find(func(p mfa.Push) bool { return bytes.Equal(p.TokenHash, h) })
}

func (t *tx) JoinablePush(_ context.Context, key, user, client, station string, now time.Time) (mfa.Push, error) {
	return t.find(func(p mfa.Push) bool {
		if p.Outcome != mfa.PushPending || !now.Before(p.Expires) {
			return false
		}
		return (key != "" && p.DedupKey == key) ||
			(station != "" && p.User == user && p.Client == client && p.CallingStation == station)
	})
}

func (t *tx) DecidePush(_ context.Context, id int64, o mfa.PushOutcome, at time.Time, by string) (bool, error) {
	for i, p := range t.st.pushes {
		if p.ID == id && p.Outcome == mfa.PushPending {
			t.st.pushes[i].Outcome, t.st.pushes[i].DecidedBy = o, by
			if o != mfa.PushExpired && o != mfa.PushSuperseded {
				t.st.pushes[i].Decided = at
			}
			return true, nil
		}
	}
	return false, nil
}

func (t *tx) SupersedePushes(_ context.Context, user string, except int64, at time.Time) ([]int64, error) {
	var ids []int64
	for i, p := range t.st.pushes {
		if p.User == user && p.ID != except && p.Outcome == mfa.PushPending {
			t.st.pushes[i].Outcome = mfa.PushSuperseded
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

func (t *tx) CountPushes(_ context.Context, user string, since time.Time) (int, error) {
	n := 0
	for _, p := range t.st.pushes {
		if p.User == user && p.Created.After(since) {
			n++
		}
	}
	return n, nil
}

func (t *tx) user(id int64) (string, mfa.User) {
	for k, u := range t.st.users {
		if u.ID == id {
			return k, u
		}
	}
	return "", mfa.User{}
}

func (t *tx) RecordFailure(_ context.Context, id int64, max int, until time.Time, key string) (bool, error) {
	k, u := t.user(id)
	if k == "" {
		return false, mfa.ErrNotFound
	}
	if key != "" && t.st.failKeys[id] == key {
		return false, nil // the same packet again
	}
	t.st.failKeys[id] = key
	u.Failures++
	locked := u.Failures >= max
	if locked {
		u.Failures, u.LockedUntil = 0, until
	}
	t.st.users[k] = u
	return locked, nil
}

func (t *tx) ResetFailures(_ context.Context, id int64) error {
	k, u := t.user(id)
	if k != "" {
		u.Failures, u.LockedUntil = 0, time.Time{}
		t.st.users[k] = u
	}
	delete(t.st.failKeys, id)
	return nil
}

// Notifier is a fake mfa.Notifier that records what it was asked to send.
type Notifier struct {
	mu   sync.Mutex
	Sent []mfa.Notification
	// Err, if set, is returned by every Notify.
	Err error
	// FailedDetail, if set, makes every Notify report a failed delivery
	// with this detail and no error, as the plugin host does when a
	// notifier could not deliver.
	FailedDetail string
	// OnNotify, if set, runs for each notification (e.g. to approve it).
	OnNotify func(mfa.Notification)
}

var _ mfa.Notifier = (*Notifier)(nil)

// Notify implements mfa.Notifier.
func (n *Notifier) Notify(_ context.Context, m mfa.Notification) (mfa.Delivery, error) {
	n.mu.Lock()
	n.Sent = append(n.Sent, m)
	err, hook, failed := n.Err, n.OnNotify, n.FailedDetail
	n.mu.Unlock()
	if err != nil {
		return mfa.Delivery{Status: "failed"}, err
	}
	if failed != "" {
		return mfa.Delivery{Status: "failed", Detail: failed}, nil
	}
	if hook != nil {
		hook(m)
	}
	return mfa.Delivery{Status: "sent"}, nil
}

// Messages returns what was sent so far.
func (n *Notifier) Messages() []mfa.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.Sent)
}
