package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Engine decides Access-Requests. It is safe for concurrent use.
type Engine struct {
	store    Store
	cfg      Config
	now      func() time.Time
	rand     io.Reader
	notifier Notifier   // delivers pushes and alerts; nil: none configured
	waiter   PushWaiter // wakes waiting requests; nil: push cannot be waited for here
	pushDown bool       // push is configured but its daemon is unreachable (exec)
	// dir is the directory and first-factor check (dirflow.go).
	dir directorySupport
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithRand sets the source of State values, tokens and transaction ids
// (default crypto/rand). Only tests should change it.
func WithRand(r io.Reader) Option { return func(e *Engine) { e.rand = r } }

// WithNotifier sets the notifier that delivers pushes and alerts.
func WithNotifier(n Notifier) Option { return func(e *Engine) { e.notifier = n } }

// WithPushWaiter makes push approvals possible: radmfa serve passes the
// waiter its approval page wakes.
func WithPushWaiter(w PushWaiter) Option { return func(e *Engine) { e.waiter = w } }

// WithPushBackendDown tells the engine that push is configured but the
// daemon that handles it cannot be reached (radmfa exec falling back to a
// local decision): push triggers then follow the profile's fail mode.
func WithPushBackendDown() Option { return func(e *Engine) { e.pushDown = true } }

// New returns an Engine that keeps its state in store.
func New(store Store, cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mfa: config: %w", err)
	}
	e := &Engine{store: store, cfg: cfg, now: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(e)
	}
	if err := e.checkDirectoryNeeds(); err != nil {
		return nil, fmt.Errorf("mfa: config: %w", err)
	}
	return e, nil
}

// Lengths of random values.
const (
	stateLen = 16 // 128-bit State values
	tokenLen = 16 // 128-bit approval URL tokens
	txIDLen  = 8  // transaction ids are unique, not secret
)

// ErrInterrupted is returned when a request that waited for a push is
// abandoned because ctx ended (shutdown, FreeRADIUS gave up). The push
// stays pending in the store: a retransmission joins it.
var ErrInterrupted = errors.New("mfa: interrupted while waiting for a push")

// step is one stage of a decision: the answer so far, the events to write
// in its transaction, and what happens next outside the transaction.
type step struct {
	d      Decision
	events []Event
	next   func(ctx context.Context) (step, error)
}

// Decide answers one Access-Request and records what happened as events.
// An OTP decision is one store transaction. A push is several: create it
// (and the Challenge event), deliver the notification, wait for the
// answer, then conclude. A Reject is a Decision; the error is non-nil only
// when no decision could be made (store failure, ctx ended), and then
// Decision.TxID still names the transaction so the caller can record the
// error with RecordError.
func (e *Engine) Decide(ctx context.Context, req Request) (Decision, error) {
	now := e.now().UTC().Truncate(time.Millisecond)
	txID, err := e.randomHex(txIDLen)
	if err != nil {
		return Decision{}, err
	}
	ctx, req = e.prepare(ctx, req) // directory, grammar, first factor: before any transaction (dirflow.go)
	st, err := e.inTx(ctx, func(tx Tx) (step, error) {
		st, err := e.decide(ctx, tx, req, now, txID)
		return withoutPasscode(req, st), err
	})
	for err == nil && st.next != nil {
		st, err = st.next(ctx)
	}
	if err != nil {
		if errors.Is(err, ErrInterrupted) {
			return Decision{TxID: txID}, err
		}
		return Decision{TxID: txID}, fmt.Errorf("mfa: decide: %w", err)
	}
	return st.d, nil
}

// withoutPasscode turns a policy Accept of an MS-CHAPv2 request
// (unknown_user = accept, a directory that fails open or asks for no
// second factor) into a Reject. radmfa never learnt the passcode, so it
// cannot give rlm_mschap what it needs for MS-CHAP2-Success and the MPPE
// keys; an Accept without them would skip the check of the response
// altogether, for anyone who names such a user.
func withoutPasscode(req Request, st step) step {
	if req.MSCHAP == nil || st.d.Action != ActionAccept || st.d.MSCHAP != nil {
		return st
	}
	why := st.d.Reason + "; but MS-CHAPv2 cannot complete without the passcode: rejected"
	st.d = Decision{Action: ActionReject, Message: MsgFailed, TxID: st.d.TxID, Reason: why}
	if n := len(st.events); n > 0 {
		st.events[n-1].Result, st.events[n-1].Message = ResultFailure, why
	}
	return st
}

// inTx runs fn in one store transaction and writes the events it returns.
func (e *Engine) inTx(ctx context.Context, fn func(Tx) (step, error)) (step, error) {
	var st step
	err := e.store.Update(ctx, func(tx Tx) error {
		var err error
		if st, err = fn(e.wrapTx(tx)); err != nil {
			return err
		}
		for _, ev := range st.events {
			if err := tx.AddEvent(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// RecordError records, as a Failure event, that a request could not be
// decided. cause must not contain secrets. It is best-effort: the returned
// error says whether the event could be written.
func (e *Engine) RecordError(ctx context.Context, req Request, txID, cause string) error {
	return e.recordFailure(ctx, req, txID, "could not decide: "+cause)
}

// Refuse rejects a request that a front door could not make sense of (a
// malformed attribute, a missing User-Password), recording the reason as a
// Failure event. reason must not contain secrets.
func (e *Engine) Refuse(ctx context.Context, req Request, reason string) (Decision, error) {
	txID, err := e.randomHex(txIDLen)
	if err != nil {
		return Decision{}, err
	}
	if err := e.recordFailure(ctx, req, txID, reason); err != nil {
		return Decision{TxID: txID}, fmt.Errorf("mfa: refuse: %w", err)
	}
	return Decision{Action: ActionReject, Message: MsgFailed, TxID: txID, Reason: reason}, nil
}

func (e *Engine) recordFailure(ctx context.Context, req Request, txID, message string) error {
	ev := e.event(req, Profile{}, e.now().UTC().Truncate(time.Millisecond), txID)
	ev.User = e.displayName(req.UserName)
	ev.Result = ResultFailure
	ev.Message = message
	return e.store.Update(ctx, func(tx Tx) error { return tx.AddEvent(ctx, ev) })
}

// request is what decide knows about the request being decided.
type request struct {
	req     Request
	profile Profile
	now     time.Time
	user    User
	devices []Device // enabled devices
	ev      Event    // the event being built
	// pre is what the directory said (dirflow.go); nil without one.
	pre *prepared
}

// decide is the first stage of Decide, inside a store transaction.
func (e *Engine) decide(ctx context.Context, tx Tx, req Request, now time.Time, txID string) (step, error) {
	r := e.newRequest(ctx, req, now) // the profile may depend on directory groups (dirflow.go)
	r.ev = e.event(req, r.profile, now, txID)
	names := e.cfg.Users
	if r.profile.Users != nil {
		names = *r.profile.Users
	}
	name, err := names.Normalize(req.UserName)
	if err != nil {
		r.ev.User = Printable(req.UserName)
		return reject(r, "invalid user name", MsgFailed), nil
	}
	r.ev.User = name
	if len(req.Passcode) > maxAttrLen {
		return reject(r, "passcode longer than 253 bytes", MsgFailed), nil
	}
	if len(req.State) > maxAttrLen {
		return reject(r, "State longer than 253 bytes", MsgFailed), nil
	}

	var ch *Challenge
	if len(req.State) > 0 {
		c, err := tx.TakeChallenge(ctx, stateKey(req.State))
		if errors.Is(err, ErrNotFound) {
			// A retransmission of a State answer that is waiting for a
			// push (FreeRADIUS gave up on the first copy and treats the
			// retransmit as new) finds the push again; any other packet
			// with a used State is refused.
			c, err = e.retransmittedAnswer(ctx, tx, req)
			if errors.Is(err, ErrNotFound) {
				return reject(r, "unknown State: never issued, already used or removed", MsgExpired), nil
			}
		}
		if err != nil {
			return step{}, err
		}
		if c.User != name {
			return reject(r, "State was issued to another user", MsgFailed), nil
		}
		r.ev.TxID = c.TxID
		if cl := clientOf(req); c.Client != "" && cl != "" && c.Client != cl {
			return reject(r, "State answered through a different RADIUS client", MsgFailed), nil
		}
		if !now.Before(c.Expires) {
			return reject(r, "challenge expired", MsgExpired), nil
		}
		ch = &c
	}

	if st, ok, err := e.directoryChecks(ctx, tx, r); ok || err != nil {
		return st, err
	}
	user, err := e.lookupUser(ctx, tx, r, name)
	if errors.Is(err, ErrNotFound) {
		if r.profile.UnknownUser == "accept" {
			r.ev.Result = ResultSuccess
			r.ev.Message = fmt.Sprintf("unknown user accepted without a second factor (profile %s: unknown_user = accept)", r.profile.Name)
			return step{d: Decision{Action: ActionAccept, TxID: r.ev.TxID, Reason: r.ev.Message}, events: []Event{r.ev}}, nil
		}
		return reject(r, "unknown user", MsgFailed), nil
	}
	if err != nil {
		return step{}, err
	}
	r.user = user
	if user.Disabled {
		return reject(r, "user disabled", MsgFailed), nil
	}
	if now.Before(user.LockedUntil) {
		return reject(r, "account locked", MsgLocked), nil
	}
	all, err := tx.Devices(ctx, user.ID)
	if err != nil {
		return step{}, err
	}
	for _, d := range all {
		if !d.Disabled {
			r.devices = append(r.devices, d)
		}
	}
	if err := e.addDirectoryDevices(ctx, tx, r); err != nil {
		return step{}, err
	}
	if req.MSCHAP != nil {
		return e.decideMSCHAP(ctx, tx, r, ch) // mschapflow.go
	}
	if st, ok, err := e.bypass(ctx, tx, r); ok || err != nil {
		return st, err
	}
	if len(r.devices) == 0 {
		return reject(r, "user has no enabled device", MsgFailed), nil
	}

	r.ev.Trigger = ClassifyPasscode(req.Passcode.Reveal())
	if ch != nil {
		switch ch.Kind {
		case ChallengeCode:
			return e.checkCode(ctx, tx, r, *ch, req.Passcode.Reveal())
		case ChallengeResync:
			if r.ev.Trigger == TriggerCode {
				return e.resync(ctx, tx, r, *ch, req.Passcode.Reveal())
			}
			return e.failure(ctx, tx, r, "resynchronisation answer is not a code", MsgFailed)
		}
	}
	if r.ev.Trigger == TriggerCode {
		st, err := e.verifyOTP(ctx, tx, r, req.Passcode.Reveal())
		if err == nil && ch != nil && ch.PushID != 0 && st.d.Action == ActionAccept {
			// A code answered a push challenge: that push is moot.
			_, err = tx.DecidePush(ctx, ch.PushID, PushSuperseded, now, "code")
		}
		return st, err
	}
	if ch != nil {
		switch ch.Kind {
		case ChallengePush:
			// The answer to "approve, then press Enter": wait for the push.
			if err := e.rememberAnswer(ctx, tx, r, *ch); err != nil {
				return step{}, err
			}
			return e.joinPush(ctx, tx, r, ch.PushID)
		case ChallengeFallback:
			if r.ev.Trigger.IsPushTrigger() {
				break // Enter: another push
			}
			fallthrough
		default:
			r.ev.Method = MethodTOTP
			if r.ev.Trigger == TriggerEmpty {
				return e.failure(ctx, tx, r, "challenge answered without a code", MsgFailed)
			}
			return e.failure(ctx, tx, r, "challenge answer is not a code", MsgFailed)
		}
	}
	switch r.ev.Trigger {
	case TriggerSMS, TriggerEmail:
		kind := map[Trigger]DeviceKind{TriggerSMS: DeviceSMS, TriggerEmail: DeviceEmail}[r.ev.Trigger]
		if d, ok := codeDevice(r.devices, kind); ok {
			return e.sendCode(ctx, tx, r, d)
		}
		// Without that method, s and e are 1-character passcodes (seed 003).
		return e.pushTrigger(ctx, tx, r)
	case TriggerEmpty, TriggerOneChar, TriggerGrid:
		// No grid method exists: g is a 1-character passcode too.
		return e.pushTrigger(ctx, tx, r)
	default:
		return e.failure(ctx, tx, r, "invalid passcode", MsgFailed)
	}
}

// verifyOTP checks a code against every enabled TOTP and HOTP device with
// as many digits and marks the matching step or counter used. A code just
// outside the normal window, but inside the outer one, asks for the next
// code to resynchronise the token (Outer Window Authentication, seed 003).
func (e *Engine) verifyOTP(ctx context.Context, tx Tx, r *request, code string) (step, error) {
	var lengthOK, replayed bool
	var outerDev *Device
	var outerCounter int64
	for i, d := range r.devices {
		if (d.Kind != DeviceTOTP && d.Kind != DeviceHOTP) || d.Digits != len(code) {
			continue
		}
		lengthOK = true
		r.ev.Method = methodOf(d)
		w := e.windows(d, r.now)
		counter, ok, err := match(d, code, w.from, w.to)
		if err != nil {
			return stepErr(fmt.Errorf("device %d: %w", d.ID, err))
		}
		if !ok && d.Kind == DeviceHOTP && d.LastStep >= 0 {
			// A code just used (HOTP windows start after the last one).
			if _, used, err := match(d, code, max(0, d.LastStep-e.cfg.OTP.lookahead()+1), d.LastStep); err == nil && used {
				replayed = true
				continue
			}
		}
		if !ok {
			if outerDev == nil {
				c, ok, err := match(d, code, w.outerFrom, w.outerTo)
				if err != nil {
					return stepErr(fmt.Errorf("device %d: %w", d.ID, err))
				}
				if ok && c > d.LastStep {
					outerDev, outerCounter = &r.devices[i], c
				}
			}
			continue
		}
		fresh, err := tx.UseStep(ctx, d.ID, counter)
		if err != nil {
			return stepErr(err)
		}
		if !fresh {
			replayed = true
			continue
		}
		msg := "OTP accepted"
		if d.Kind == DeviceHOTP {
			msg = fmt.Sprintf("OTP accepted (counter %d)", counter)
		} else if off := counter - w.center; off != 0 {
			msg = fmt.Sprintf("OTP accepted (%+d step)", off)
		}
		r.ev.Device = d.Name
		return e.success(ctx, tx, r, msg)
	}
	switch {
	case !lengthOK:
		return e.failure(ctx, tx, r, fmt.Sprintf("invalid passcode: no enabled device has %d digits", len(code)), MsgFailed)
	case replayed:
		return e.failure(ctx, tx, r, "OTP already used", MsgCodeUsed)
	case outerDev != nil:
		return e.resyncChallenge(ctx, tx, r, *outerDev, outerCounter)
	default:
		return e.failure(ctx, tx, r, "wrong OTP", MsgFailed)
	}
}

// otpWindows are the counters a device's code is searched in.
type otpWindows struct {
	center             int64 // TOTP: now's step with the learnt drift
	from, to           int64 // accepted
	outerFrom, outerTo int64 // resynchronisation
}

func (e *Engine) windows(d Device, now time.Time) otpWindows {
	if d.Kind == DeviceHOTP {
		next := d.LastStep + 1
		l, o := e.cfg.OTP.lookahead(), e.cfg.OTP.hotpOuter()
		return otpWindows{from: next, to: next + l - 1, outerFrom: next, outerTo: next + o - 1}
	}
	c := Step(d, now) + d.Drift
	w, o := int64(e.cfg.OTP.window()), e.cfg.OTP.outer()
	return otpWindows{center: c, from: c - w, to: c + w, outerFrom: c - o, outerTo: c + o}
}

func methodOf(d Device) Method {
	switch d.Kind {
	case DeviceHOTP:
		return MethodHOTP
	case DeviceSMS:
		return MethodSMS
	case DeviceEmail:
		return MethodEmail
	case DevicePush:
		return MethodPush
	}
	return MethodTOTP
}

// resyncChallenge asks for the code after one found in the outer window.
func (e *Engine) resyncChallenge(ctx context.Context, tx Tx, r *request, d Device, counter int64) (step, error) {
	state := make([]byte, stateLen)
	if _, err := io.ReadFull(e.rand, state); err != nil {
		return step{}, fmt.Errorf("random State: %w", err)
	}
	err := tx.PutChallenge(ctx, Challenge{Key: stateKey(state), User: r.ev.User, TxID: r.ev.TxID, Kind: ChallengeResync,
		Client: clientOf(r.req), Expires: r.now.Add(e.cfg.Challenge.timeout()), DeviceID: d.ID, Counter: counter})
	if err != nil {
		return step{}, err
	}
	r.ev.Result = ResultOuterWindow
	r.ev.Device = d.Name
	if d.Kind == DeviceHOTP {
		r.ev.Message = fmt.Sprintf("code %d counters ahead: enter the next code to resynchronise", counter-d.LastStep-1)
	} else {
		r.ev.Message = fmt.Sprintf("code %+d steps away: enter the next code to resynchronise", counter-(Step(d, r.now)+d.Drift))
	}
	return step{d: Decision{Action: ActionChallenge, Message: MsgResync, State: state, TxID: r.ev.TxID, Reason: r.ev.Message},
		events: []Event{r.ev}}, nil
}

// resync checks the answer to a resynchronisation challenge: the code that
// follows the first one.
func (e *Engine) resync(ctx context.Context, tx Tx, r *request, ch Challenge, code string) (step, error) {
	var d *Device
	for i := range r.devices {
		if r.devices[i].ID == ch.DeviceID {
			d = &r.devices[i]
		}
	}
	if d == nil {
		return e.failure(ctx, tx, r, "resynchronisation: the device is gone or disabled", MsgFailed)
	}
	r.ev.Method, r.ev.Device = methodOf(*d), d.Name
	next := ch.Counter + 1
	if _, ok, err := match(*d, code, next, next); err != nil || !ok {
		if err != nil {
			return step{}, err
		}
		return e.failure(ctx, tx, r, "resynchronisation failed: the second code does not follow the first", MsgFailed)
	}
	fresh, err := tx.UseStep(ctx, d.ID, next)
	if err != nil {
		return step{}, err
	}
	if !fresh {
		return e.failure(ctx, tx, r, "OTP already used", MsgCodeUsed)
	}
	drift := int64(0)
	msg := fmt.Sprintf("token resynchronised (counter %d)", next)
	if d.Kind == DeviceTOTP {
		drift = next - Step(*d, r.now)
		msg = fmt.Sprintf("token resynchronised (drift %+d steps)", drift)
	}
	if err := tx.SyncDevice(ctx, d.ID, next, drift); err != nil {
		return step{}, err
	}
	return e.success(ctx, tx, r, msg)
}

// Resync resynchronises one of a user's tokens from two consecutive codes
// (radmfa user resync): it searches far wider than logins do (±100 TOTP
// steps, 1000 HOTP counters) and records where the token is. With a
// directory, the user's directory tokens are searched too (their state
// lives in the store; nothing is written to the directory).
func (e *Engine) Resync(ctx context.Context, name, code1, code2 string) (device string, drift int64, err error) {
	now := e.now().UTC()
	user, err := e.cfg.Users.Normalize(name)
	if err != nil {
		return "", 0, ErrInvalidUserName
	}
	du, err := e.directoryUser(ctx, user)
	if err != nil {
		return "", 0, fmt.Errorf("mfa: resync: directory: %w", err)
	}
	p := &prepared{user: du}
	ctx = context.WithValue(ctx, preparedKey{}, p)
	_, err = e.inTx(ctx, func(tx Tx) (step, error) {
		r := e.newRequest(ctx, Request{UserName: name}, now)
		u, err := e.lookupUser(ctx, tx, r, user)
		if err != nil {
			return step{}, err
		}
		r.user = u
		if r.devices, err = tx.Devices(ctx, u.ID); err != nil {
			return step{}, err
		}
		if err := e.addDirectoryDevices(ctx, tx, r); err != nil {
			return step{}, err
		}
		for _, d := range r.devices {
			if (d.Kind != DeviceTOTP && d.Kind != DeviceHOTP) || d.Disabled || d.Digits != len(code1) {
				continue
			}
			from, to := d.LastStep+1, d.LastStep+1000
			if d.Kind == DeviceTOTP {
				s := Step(d, now)
				from, to = max(s-100, d.LastStep+1), s+100
			}
			c, ok, err := match(d, code1, from, to)
			if err != nil || !ok {
				continue
			}
			if _, ok, _ := match(d, code2, c+1, c+1); !ok {
				continue
			}
			drift = 0
			if d.Kind == DeviceTOTP {
				drift = c + 1 - Step(d, now)
			}
			device = d.Name
			if err := tx.SyncDevice(ctx, d.ID, c+1, drift); err != nil {
				return step{}, err
			}
			if u.Failures > 0 || !u.LockedUntil.IsZero() {
				return step{}, tx.ResetFailures(ctx, u.ID)
			}
			return step{}, nil
		}
		return step{}, errors.New("mfa: resync: no enabled device shows these two codes one after the other")
	})
	return device, drift, err
}

// success concludes with Accept and a Success event, clearing the user's
// failure count.
func (e *Engine) success(ctx context.Context, tx Tx, r *request, msg string) (step, error) {
	if r.user.Failures > 0 {
		if err := tx.ResetFailures(ctx, r.user.ID); err != nil {
			return step{}, err
		}
	}
	r.ev.Result = ResultSuccess
	r.ev.Message = msg
	return step{d: Decision{Action: ActionAccept, TxID: r.ev.TxID, Reason: msg}, events: []Event{r.ev}}, nil
}

// failure concludes with Reject and a Failure event that counts toward
// the user's lockout; reaching the limit adds an "account locked" event.
func (e *Engine) failure(ctx context.Context, tx Tx, r *request, reason, msg string) (step, error) {
	st := reject(r, reason, msg)
	locked, err := e.countFailure(ctx, tx, r.user.ID, r.now, failureKey(r.req))
	if err != nil {
		return step{}, err
	}
	if locked {
		lock := r.ev
		lock.Message = "account locked"
		st.events = append(st.events, lock)
	}
	return st, nil
}

// failureKey identifies a failed attempt for lockout: the packet (source,
// port, Request Authenticator) and what it carries (passcode, MS-CHAPv2
// response, State). A retransmission, to this FreeRADIUS or to another
// after a failover, counts once; a client that reuses one authenticator
// for many guesses does not get them for free, since each guess differs.
// "" (always counted) without a dedup key.
func failureKey(req Request) string {
	dk := dedupKey(req)
	if dk == "" {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "radmfa failure\x00%s\x00%d\x00", dk, len(req.Passcode))
	h.Write([]byte(req.Passcode.Reveal()))
	if m := req.MSCHAP; m != nil {
		h.Write(m.ChallengeHash[:])
		h.Write(m.NTResponse[:])
	}
	h.Write(req.State)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (e *Engine) countFailure(ctx context.Context, tx Tx, userID int64, now time.Time, key string) (bool, error) {
	max, d := e.cfg.Lockout.limits()
	return tx.RecordFailure(ctx, userID, max, now.Add(d), key)
}

// reject concludes with Reject and a Failure event that does not count
// toward lockout (the user is unknown, or the request is malformed).
func reject(r *request, reason, msg string) step {
	r.ev.Result = ResultFailure
	r.ev.Message = reason
	return step{d: Decision{Action: ActionReject, Message: msg, TxID: r.ev.TxID, Reason: reason}, events: []Event{r.ev}}
}

func stepErr(err error) (step, error) { return step{}, err }

// otpChallenge asks for the authenticator app's code (no push here).
func (e *Engine) otpChallenge(ctx context.Context, tx Tx, r *request, kind ChallengeKind, msg string, pushID int64, record bool) (step, error) {
	state, err := e.newChallenge(ctx, tx, r, kind, pushID, r.now.Add(e.cfg.Challenge.timeout()))
	if err != nil {
		return step{}, err
	}
	st := step{d: Decision{Action: ActionChallenge, Message: msg, State: state, TxID: r.ev.TxID}}
	if record {
		r.ev.Result = ResultChallenge
		r.ev.Method = MethodTOTP
		r.ev.Message = "challenge: enter the code from the authenticator app"
		st.d.Reason = r.ev.Message
		st.events = []Event{r.ev}
	}
	return st, nil
}

// newChallenge stores challenge state and returns the State value.
func (e *Engine) newChallenge(ctx context.Context, tx Tx, r *request, kind ChallengeKind, pushID int64, expires time.Time) ([]byte, error) {
	state := make([]byte, stateLen)
	if _, err := io.ReadFull(e.rand, state); err != nil {
		return nil, fmt.Errorf("random State: %w", err)
	}
	err := tx.PutChallenge(ctx, Challenge{Key: stateKey(state), User: r.ev.User, TxID: r.ev.TxID, Kind: kind,
		Client: clientOf(r.req), Expires: expires, PushID: pushID})
	return state, err
}

// answerGrace is how long after its push expires a retransmitted State
// answer still finds it: a NAS retransmits for up to about 30 s.
const answerGrace = 30 * time.Second

// answerKey is the challenge key under which a State answer waiting for a
// push is remembered: it binds the State to the packet (source address,
// port and Request Authenticator), so only a retransmission of that very
// packet matches. Empty without a dedup key.
func answerKey(req Request) []byte {
	dk := dedupKey(req)
	if dk == "" {
		return nil
	}
	h := sha256.New()
	h.Write([]byte("radmfa answer\x00"))
	h.Write(stateKey(req.State))
	h.Write([]byte(dk))
	return h.Sum(nil)
}

// rememberAnswer records that this packet answered a push challenge, so
// that its retransmissions join the same push instead of meeting a used
// State.
func (e *Engine) rememberAnswer(ctx context.Context, tx Tx, r *request, c Challenge) error {
	key := answerKey(r.req)
	if key == nil {
		return nil
	}
	c.Key = key
	if p, err := tx.PushByID(ctx, c.PushID); err == nil {
		c.Expires = p.Expires.Add(answerGrace)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	return tx.PutChallenge(ctx, c)
}

// retransmittedAnswer finds the challenge a retransmitted State answer
// stood for (see rememberAnswer), or ErrNotFound.
func (e *Engine) retransmittedAnswer(ctx context.Context, tx Tx, req Request) (Challenge, error) {
	key := answerKey(req)
	if key == nil {
		return Challenge{}, ErrNotFound
	}
	return tx.TakeChallenge(ctx, key)
}

// event returns an event with the request's context filled in.
func (e *Engine) event(req Request, p Profile, now time.Time, txID string) Event {
	n := req.NAS
	ev := Event{
		Time:             now,
		TxID:             txID,
		FrontDoor:        req.FrontDoor,
		Node:             e.cfg.Node,
		NASIPAddress:     Printable(n.IPAddress),
		NASIdentifier:    Printable(n.Identifier),
		CalledStationID:  Printable(n.CalledStationID),
		CallingStationID: Printable(n.CallingStationID),
		Client:           Printable(clientOf(req)),
	}
	switch {
	case p.Resource != "":
		ev.Resource = p.Resource
	case ev.NASIdentifier != "":
		ev.Resource = ev.NASIdentifier
	case ev.CalledStationID != "":
		ev.Resource = ev.CalledStationID
	default:
		ev.Resource = ev.Client
	}
	return ev
}

// displayName is the user name as it goes into events.
func (e *Engine) displayName(raw string) string {
	if n, err := e.cfg.Users.Normalize(raw); err == nil {
		return n
	}
	return Printable(raw)
}

// clientOf names the RADIUS client FreeRADIUS authenticated.
func clientOf(req Request) string {
	if req.NAS.ClientName != "" {
		return req.NAS.ClientName
	}
	return req.NAS.ClientIP
}

func stateKey(state []byte) []byte {
	k := sha256.Sum256(state)
	return k[:]
}

// TokenHash is how a push's approval token is stored.
func TokenHash(token string) []byte {
	k := sha256.Sum256([]byte(token))
	return k[:]
}

func (e *Engine) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return "", fmt.Errorf("mfa: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (e *Engine) randomToken() (string, error) {
	b := make([]byte, tokenLen)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return "", fmt.Errorf("mfa: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomNumber returns a uniformly random integer in [lo, hi].
func (e *Engine) randomNumber(lo, hi int) (int, error) {
	var b [8]byte
	span := uint64(hi - lo + 1)
	limit := ^uint64(0) - ^uint64(0)%span
	for {
		if _, err := io.ReadFull(e.rand, b[:]); err != nil {
			return 0, fmt.Errorf("mfa: random: %w", err)
		}
		v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if v < limit {
			return lo + int(v%span), nil
		}
	}
}

func numbersEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
