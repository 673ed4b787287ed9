package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Engine decides Access-Requests. It is safe for concurrent use.
type Engine struct {
	store Store
	cfg   Config
	now   func() time.Time
	rand  io.Reader
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithRand sets the source of State values and transaction ids (default
// crypto/rand). Only tests should change it.
func WithRand(r io.Reader) Option { return func(e *Engine) { e.rand = r } }

// New returns an Engine that keeps its state in store.
func New(store Store, cfg Config, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mfa: config: %w", err)
	}
	e := &Engine{store: store, cfg: cfg, now: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Lengths of random values.
const (
	stateLen = 16 // 128-bit State values
	txIDLen  = 8  // transaction ids are unique, not secret
)

// Decide answers one Access-Request and records what happened as events, in
// one store transaction. A Reject is a Decision; the error is non-nil only
// when no decision could be made (store failure, ctx ended), and then
// Decision.TxID still names the transaction so the caller can record the
// error with RecordError.
func (e *Engine) Decide(ctx context.Context, req Request) (Decision, error) {
	now := e.now().UTC().Truncate(time.Millisecond)
	txID, err := e.randomHex(txIDLen)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	err = e.store.Update(ctx, func(tx Tx) error {
		var ev Event
		var err error
		d, ev, err = e.decide(ctx, tx, req, now, txID)
		if err != nil {
			return err
		}
		return tx.AddEvent(ctx, ev)
	})
	if err != nil {
		return Decision{TxID: txID}, fmt.Errorf("mfa: decide: %w", err)
	}
	return d, nil
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
	ev := e.event(req, e.now().UTC().Truncate(time.Millisecond), txID)
	ev.User = e.displayName(req.UserName)
	ev.Result = ResultFailure
	ev.Message = message
	return e.store.Update(ctx, func(tx Tx) error { return tx.AddEvent(ctx, ev) })
}

// decide is the body of Decide inside the store transaction.
func (e *Engine) decide(ctx context.Context, tx Tx, req Request, now time.Time, txID string) (Decision, Event, error) {
	ev := e.event(req, now, txID)
	name, err := e.cfg.Users.Normalize(req.UserName)
	if err != nil {
		ev.User = Printable(req.UserName)
		return reject(&ev, "invalid user name", MsgFailed)
	}
	ev.User = name
	if len(req.Passcode) > maxAttrLen {
		return reject(&ev, "passcode longer than 253 bytes", MsgFailed)
	}
	if len(req.State) > maxAttrLen {
		return reject(&ev, "State longer than 253 bytes", MsgFailed)
	}

	var ch *Challenge
	if len(req.State) > 0 {
		c, err := tx.TakeChallenge(ctx, stateKey(req.State))
		if errors.Is(err, ErrNotFound) {
			return reject(&ev, "unknown State: never issued, already used or removed", MsgExpired)
		}
		if err != nil {
			return Decision{}, ev, err
		}
		if c.User != name {
			return reject(&ev, "State was issued to another user", MsgFailed)
		}
		ev.TxID = c.TxID
		if cl := clientOf(req); c.Client != "" && cl != "" && c.Client != cl {
			return reject(&ev, "State answered through a different RADIUS client", MsgFailed)
		}
		if !now.Before(c.Expires) {
			return reject(&ev, "challenge expired", MsgExpired)
		}
		ch = &c
	}

	user, err := tx.LookupUser(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return reject(&ev, "unknown user", MsgFailed)
	}
	if err != nil {
		return Decision{}, ev, err
	}
	if user.Disabled {
		return reject(&ev, "user disabled", MsgFailed)
	}
	all, err := tx.Devices(ctx, user.ID)
	if err != nil {
		return Decision{}, ev, err
	}
	devices := all[:0:0]
	for _, d := range all {
		if !d.Disabled {
			devices = append(devices, d)
		}
	}
	if len(devices) == 0 {
		return reject(&ev, "user has no enabled device", MsgFailed)
	}

	ev.Trigger = ClassifyPasscode(req.Passcode.Reveal())
	if ch != nil && ev.Trigger != TriggerCode {
		ev.Method = MethodTOTP
		if ev.Trigger == TriggerEmpty {
			return reject(&ev, "challenge answered without a code", MsgFailed)
		}
		return reject(&ev, "challenge answer is not a code", MsgFailed)
	}
	switch ev.Trigger {
	case TriggerCode:
		return e.verifyOTP(ctx, tx, devices, req.Passcode.Reveal(), now, &ev)
	case TriggerEmpty, TriggerOneChar, TriggerSMS, TriggerEmail, TriggerGrid:
		// No push, SMS or e-mail method yet: s, e and g are ordinary
		// 1-character passcodes (seed 003), and every push trigger falls
		// back to asking for the app's code (seed 002).
		return e.challenge(ctx, tx, req, now, &ev)
	default:
		return reject(&ev, "invalid passcode", MsgFailed)
	}
}

// verifyOTP checks a code against every enabled device with as many digits
// and marks the matching step used.
func (e *Engine) verifyOTP(ctx context.Context, tx Tx, devices []Device, code string, now time.Time, ev *Event) (Decision, Event, error) {
	w := int64(e.cfg.OTP.window())
	var lengthOK, replayed bool
	for _, d := range devices {
		if d.Kind != DeviceTOTP || d.Digits != len(code) {
			continue
		}
		lengthOK = true
		ev.Method = MethodTOTP
		step := Step(d, now)
		counter, ok, err := match(d, code, step-w, step+w)
		if err != nil {
			return Decision{}, *ev, fmt.Errorf("device %d: %w", d.ID, err)
		}
		if !ok {
			continue
		}
		fresh, err := tx.UseStep(ctx, d.ID, counter)
		if err != nil {
			return Decision{}, *ev, err
		}
		if !fresh {
			replayed = true
			continue
		}
		ev.Result = ResultSuccess
		ev.Device = d.Name
		ev.Message = "OTP accepted"
		if off := counter - step; off != 0 {
			ev.Message = fmt.Sprintf("OTP accepted (%+d step)", off)
		}
		return Decision{Action: ActionAccept, TxID: ev.TxID, Reason: ev.Message}, *ev, nil
	}
	switch {
	case !lengthOK:
		return reject(ev, fmt.Sprintf("invalid passcode: no enabled device has %d digits", len(code)), MsgFailed)
	case replayed:
		return reject(ev, "OTP already used", MsgCodeUsed)
	default:
		return reject(ev, "wrong OTP", MsgFailed)
	}
}

// challenge issues an Access-Challenge asking for the authenticator app's
// code.
func (e *Engine) challenge(ctx context.Context, tx Tx, req Request, now time.Time, ev *Event) (Decision, Event, error) {
	state := make([]byte, stateLen)
	if _, err := io.ReadFull(e.rand, state); err != nil {
		return Decision{}, *ev, fmt.Errorf("random State: %w", err)
	}
	err := tx.PutChallenge(ctx, Challenge{
		Key:     stateKey(state),
		User:    ev.User,
		TxID:    ev.TxID,
		Kind:    ChallengeOTP,
		Client:  clientOf(req),
		Expires: now.Add(e.cfg.Challenge.timeout()),
	})
	if err != nil {
		return Decision{}, *ev, err
	}
	ev.Result = ResultChallenge
	ev.Method = MethodTOTP
	ev.Message = "challenge: enter the code from the authenticator app"
	return Decision{Action: ActionChallenge, Message: MsgEnterAppCode, State: state, TxID: ev.TxID, Reason: ev.Message}, *ev, nil
}

// reject fills in a Failure event and the matching Reject decision.
func reject(ev *Event, reason, msg string) (Decision, Event, error) {
	ev.Result = ResultFailure
	ev.Message = reason
	return Decision{Action: ActionReject, Message: msg, TxID: ev.TxID, Reason: reason}, *ev, nil
}

// event returns an event with the request's context filled in.
func (e *Engine) event(req Request, now time.Time, txID string) Event {
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

func (e *Engine) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return "", fmt.Errorf("mfa: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
