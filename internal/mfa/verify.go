package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// VerifyCode checks a code typed somewhere other than a RADIUS login (the
// self-service page asks for one before devices change) against the
// user's enabled TOTP and HOTP devices, local and from the directory, with
// replay protection and lockout as for a login, and records the attempt
// as an event of req.FrontDoor. req.Passcode is the code: triggers,
// grammars, bypass, mfa_groups and unknown_user do not apply, and a code in
// the outer window is refused (resynchronise at a login). Accept means the
// code was right; error means nothing could be decided.
func (e *Engine) VerifyCode(ctx context.Context, req Request) (Decision, error) {
	now := e.now().UTC().Truncate(time.Millisecond)
	txID, err := e.randomHex(txIDLen)
	if err != nil {
		return Decision{}, err
	}
	p := &prepared{profile: e.cfg.profileFor(req)}
	names := e.cfg.Users
	if p.profile.Users != nil {
		names = *p.profile.Users
	}
	name, nameErr := names.Normalize(req.UserName)
	if nameErr == nil {
		p.user, p.dirErr = e.directoryUser(ctx, name)
	}
	ctx = context.WithValue(ctx, preparedKey{}, p)
	st, err := e.inTx(ctx, func(tx Tx) (step, error) {
		r := e.newRequest(ctx, req, now)
		r.ev = e.event(req, r.profile, now, txID)
		if nameErr != nil {
			r.ev.User = Printable(req.UserName)
			return reject(r, "invalid user name", MsgFailed), nil
		}
		r.ev.User = name
		if p.dirErr != nil {
			return reject(r, "directory: "+p.dirErr.Error(), MsgUnavailable), nil
		}
		user, err := e.lookupUser(ctx, tx, r, name)
		switch {
		case errors.Is(err, ErrNotFound):
			return reject(r, "unknown user", MsgFailed), nil
		case err != nil:
			return step{}, err
		case user.Disabled:
			return reject(r, "user disabled", MsgFailed), nil
		case now.Before(user.LockedUntil):
			return reject(r, "account locked", MsgLocked), nil
		}
		r.user = user
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
		code := req.Passcode.Reveal()
		if r.ev.Trigger = ClassifyPasscode(code); r.ev.Trigger != TriggerCode {
			return e.failure(ctx, tx, r, "not a code", MsgFailed)
		}
		st, err := e.verifyOTP(ctx, tx, r, code)
		if err == nil && st.d.Action == ActionChallenge {
			// The outer window: the State is not sent anywhere.
			st.d = Decision{Action: ActionReject, Message: MsgFailed, TxID: r.ev.TxID, Reason: st.d.Reason}
		}
		return st, err
	})
	if err != nil {
		return Decision{TxID: txID}, fmt.Errorf("mfa: verify code: %w", err)
	}
	return st.d, nil
}

// DeviceCounts counts a user's enrolled devices.
type DeviceCounts struct {
	// OTP counts enabled TOTP and HOTP devices, local and from the
	// directory's secret attribute: the ones VerifyCode checks.
	OTP int
	// Other counts enabled push, SMS and e-mail devices in radmfa's
	// database. The directory's phone and e-mail attributes are contact
	// details, not enrolled devices, and do not count.
	Other int
}

// UserDevices counts the user's enrolled devices, local and from the
// directory. An unknown user has none. The self-service page asks this
// before it lets a user add a device without proving a code from an
// existing one: only a user with no enrolled device at all may (SPEC §7).
func (e *Engine) UserDevices(ctx context.Context, name string) (DeviceCounts, error) {
	var n DeviceCounts
	user, err := e.cfg.Users.Normalize(name)
	if err != nil {
		return n, ErrInvalidUserName
	}
	count := func(d Device) {
		switch {
		case d.Disabled:
		case d.Kind == DeviceTOTP || d.Kind == DeviceHOTP:
			n.OTP++
		default:
			n.Other++
		}
	}
	du, err := e.directoryUser(ctx, user)
	if err != nil {
		return n, fmt.Errorf("mfa: directory: %w", err)
	}
	if du != nil {
		for _, d := range du.Devices {
			count(d)
		}
	}
	err = e.store.Update(ctx, func(tx Tx) error {
		u, err := tx.LookupUser(ctx, user)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		devs, err := tx.Devices(ctx, u.ID)
		for _, d := range devs {
			count(d)
		}
		return err
	})
	return n, err
}
