package mfa

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/radmfa/radmfa/internal/mschap"
)

// MSCHAPv2 is an MS-CHAPv2 response (RFC 2759) in place of a typed
// passcode. The server never sees what the user typed, only a response
// computed from it, so the engine tries every passcode the user may have
// typed (seed 003, SPEC §2): the codes of their TOTP and HOTP devices
// inside the window, a code sent to them by SMS or e-mail for an MS-CHAPv2
// login, and the triggers p, s, g, e and space, in either case. Any other
// passcode, a 1-character one included, matches nothing and fails.
type MSCHAPv2 struct {
	// ChallengeHash is the 8 bytes the NT-Response encrypts: ntlm_auth's
	// --challenge, or mschap.ChallengeHash of the peer challenge, the
	// authenticator challenge (MS-CHAP-Challenge) and the user name.
	ChallengeHash [mschap.ChallengeHashLen]byte
	// NTResponse is the 24-byte NT-Response. With the challenge hash it is
	// enough to find a short passcode offline: it never prints (String).
	NTResponse [mschap.NTResponseLen]byte
	// Ident is the MS-CHAP2-Response's identifier, which an MS-CHAP-Error
	// in the reply repeats.
	Ident byte
}

// String implements fmt.Stringer without the challenge or response.
func (MSCHAPv2) String() string { return "MS-CHAPv2 response " + redacted }

// GoString keeps %#v as discreet as %v.
func (m MSCHAPv2) GoString() string { return m.String() }

// MSCHAPResult is what a front door needs to complete an accepted
// MS-CHAPv2 exchange: the NT hash of the passcode that matched. It is a
// password equivalent for that passcode (mschap.Hash never prints).
type MSCHAPResult struct {
	NTHash mschap.Hash
}

// NTKey is what ntlm_auth prints after "NT_KEY: ", from which rlm_mschap
// derives MS-CHAP2-Success and the MPPE keys.
func (m MSCHAPResult) NTKey() mschap.Hash { return mschap.HashNTPasswordHash(m.NTHash) }

// NTPassword is the value of control:NT-Password that lets rlm_mschap
// verify the response itself (with control:MS-CHAP-Use-NTLM-Auth := No).
func (m MSCHAPResult) NTPassword() string { return m.NTHash.Octets() }

// MSCHAPTriggers are the triggers tried over MS-CHAPv2, in this order.
var MSCHAPTriggers = [...]string{"p", "P", "s", "S", "g", "G", "e", "E", " "}

// Messages of MS-CHAPv2 rejects. Over ntlm_auth the client sees only an
// MS-CHAP error; over rlm_rest the Reply-Message too.
const (
	msgMSCHAPCodeSent = "A code was sent to %s: sign in again with the code as your password"
	msgMSCHAPNoPush   = "Push is not available here; sign in with a code from your authenticator app"
)

// candidateKind says where an MS-CHAPv2 candidate passcode came from.
type candidateKind uint8

const (
	candidateOTP     candidateKind = iota + 1 // a device's code at a counter
	candidateSent                             // the pending SMS / e-mail code
	candidateTrigger                          // one of MSCHAPTriggers
)

type candidate struct {
	kind    candidateKind
	device  int   // candidateOTP: index in request.devices
	counter int64 // candidateOTP: TOTP step or HOTP counter
	trigger string
}

// decideMSCHAP decides an MS-CHAPv2 request once the user and devices are
// known (engine.go's decide). Only a code succeeds: a device's OTP, or a
// code sent by SMS or e-mail. A trigger sends a code (s, e; the user signs
// in again with it), or waits for a push where the front door can wait
// (rlm_rest), and otherwise fails. Every Accept carries the matched
// passcode's NT hash (Decision.MSCHAP).
func (e *Engine) decideMSCHAP(ctx context.Context, tx Tx, r *request, ch *Challenge) (step, error) {
	if ch != nil {
		return reject(r, "MS-CHAPv2 request with a State: MS-CHAPv2 cannot answer a challenge", MsgFailed), nil
	}
	if len(r.devices) == 0 {
		return reject(r, "user has no enabled device", MsgFailed), nil
	}
	pending, err := e.takeMSCHAPCode(ctx, tx, r)
	if err != nil {
		return step{}, err
	}
	cands, hashes, err := e.mschapCandidates(r, pending)
	if err != nil {
		return step{}, err
	}
	m := r.req.MSCHAP
	i, ok, err := mschap.MatchHashes(m.ChallengeHash[:], m.NTResponse[:], hashes)
	if err != nil {
		return step{}, err
	}
	var res MSCHAPResult
	if ok {
		res.NTHash = hashes[i]
	}
	for j := range hashes {
		clear(hashes[j][:])
	}
	if !ok {
		r.ev.Trigger = TriggerOther
		st, err := e.failure(ctx, tx, r, "MS-CHAPv2 response matches no valid code or trigger", MsgFailed)
		if err == nil {
			err = e.keepMSCHAPCode(ctx, tx, pending, true)
		}
		return st, err
	}

	c := cands[i]
	var st step
	switch c.kind {
	case candidateOTP:
		r.ev.Trigger = TriggerCode
		st, err = e.mschapOTP(ctx, tx, r, c)
		if err == nil && st.d.Action != ActionAccept {
			err = e.keepMSCHAPCode(ctx, tx, pending, true)
		}
	case candidateSent:
		r.ev.Trigger = TriggerCode
		r.ev.TxID, r.ev.Method = pending.TxID, pending.Channel
		for _, d := range r.devices {
			if d.ID == pending.DeviceID {
				r.ev.Device = d.Name
			}
		}
		st, err = e.success(ctx, tx, r, fmt.Sprintf("%s code accepted", pending.Channel))
	default:
		r.ev.Trigger = ClassifyPasscode(c.trigger)
		var sent bool
		st, sent, err = e.mschapTrigger(ctx, tx, r)
		if err == nil && !sent {
			err = e.keepMSCHAPCode(ctx, tx, pending, false)
		}
	}
	if err != nil {
		return step{}, err
	}
	return finishMSCHAP(st, func(d Decision) Decision {
		switch d.Action {
		case ActionAccept:
			d.MSCHAP = &res
		case ActionChallenge:
			// A push timed out (the fallback challenge) or was joined in
			// the challenge flow: MS-CHAPv2 cannot answer.
			d = Decision{Action: ActionReject, Message: MsgFailed, TxID: d.TxID, Reason: d.Reason + " (MS-CHAPv2 cannot answer a challenge)"}
		}
		return d
	}), nil
}

// mschapCandidates lists what the user may have typed, with each
// candidate's NT hash: the codes of every enabled TOTP and HOTP device
// inside its window (used TOTP steps too, so that a replay is reported as
// one), the pending sent code, then the triggers.
func (e *Engine) mschapCandidates(r *request, pending *Challenge) ([]candidate, []mschap.Hash, error) {
	var cands []candidate
	var hashes []mschap.Hash
	add := func(c candidate, password []byte) error {
		h, err := mschap.NTPasswordHash(password)
		if err != nil {
			return err
		}
		cands, hashes = append(cands, c), append(hashes, h)
		return nil
	}
	for i, d := range r.devices {
		if d.Kind != DeviceTOTP && d.Kind != DeviceHOTP {
			continue
		}
		w := e.windows(d, r.now)
		for counter := max(w.from, 0); counter <= w.to; counter++ {
			code, err := Code(d, counter)
			if err != nil {
				return nil, nil, fmt.Errorf("device %d: %w", d.ID, err)
			}
			if err := add(candidate{kind: candidateOTP, device: i, counter: counter}, []byte(code)); err != nil {
				return nil, nil, err
			}
		}
	}
	if pending != nil {
		cands = append(cands, candidate{kind: candidateSent})
		hashes = append(hashes, mschap.Hash(pending.CodeHash))
	}
	for _, t := range MSCHAPTriggers {
		if err := add(candidate{kind: candidateTrigger, trigger: t}, []byte(t)); err != nil {
			return nil, nil, err
		}
	}
	return cands, hashes, nil
}

// mschapOTP accepts a device's code once (replay protection as for PAP).
func (e *Engine) mschapOTP(ctx context.Context, tx Tx, r *request, c candidate) (step, error) {
	d := r.devices[c.device]
	r.ev.Method = methodOf(d)
	fresh, err := tx.UseStep(ctx, d.ID, c.counter)
	if err != nil {
		return step{}, err
	}
	if !fresh {
		return e.failure(ctx, tx, r, "OTP already used", MsgCodeUsed)
	}
	msg := "OTP accepted"
	if d.Kind == DeviceHOTP {
		msg = fmt.Sprintf("OTP accepted (counter %d)", c.counter)
	} else if off := c.counter - e.windows(d, r.now).center; off != 0 {
		msg = fmt.Sprintf("OTP accepted (%+d step)", off)
	}
	r.ev.Device = d.Name
	return e.success(ctx, tx, r, msg)
}

// mschapTrigger answers a trigger, which never succeeds by itself: s and
// e send a code for the next login; p, g, space (and s, e without that
// method) are push triggers. sent reports that a new code replaced any
// pending one.
func (e *Engine) mschapTrigger(ctx context.Context, tx Tx, r *request) (st step, sent bool, err error) {
	if kind, ok := map[Trigger]DeviceKind{TriggerSMS: DeviceSMS, TriggerEmail: DeviceEmail}[r.ev.Trigger]; ok {
		if d, ok := codeDevice(r.devices, kind); ok {
			st, err := e.mschapSendCode(ctx, tx, r, d)
			return st, true, err
		}
		// Without that method, s and e are 1-character passcodes (seed 003).
	}
	settings := r.profile.push(e.cfg.Push)
	_, hasPush := pushDevice(r.devices)
	configured := e.cfg.Push.ApprovalURL != "" && settings.enabled && hasPush
	if configured && (e.pushDown || (e.notifier != nil && e.waiter != nil)) {
		// MS-CHAPv2 cannot answer a challenge: the request waits for the
		// push whatever the profile's flow.
		r.profile.Push.Flow = FlowInline
		st, err := e.pushTrigger(ctx, tx, r)
		return st, false, err
	}
	// No push here: the user's fallback, by what is enrolled (SPEC §2).
	for _, kind := range []DeviceKind{DeviceSMS, DeviceEmail} {
		if d, ok := codeDevice(r.devices, kind); ok {
			st, err := e.mschapSendCode(ctx, tx, r, d)
			return st, true, err
		}
	}
	why := "push trigger over MS-CHAPv2, and the user has no push, SMS or e-mail method"
	if configured {
		r.ev.Method = MethodPush
		why = fmt.Sprintf("push trigger over MS-CHAPv2 through %s, which cannot wait for a push (push over MS-CHAPv2 needs rlm_rest)", r.req.FrontDoor)
	}
	return reject(r, why, msgMSCHAPNoPush), false, nil
}

// mschapSendCode sends a code as for PAP (sendCode), kept for the next
// MS-CHAPv2 login instead of behind a State, and rejects this one.
func (e *Engine) mschapSendCode(ctx context.Context, tx Tx, r *request, d Device) (step, error) {
	st, err := e.sendCode(ctx, tx, r, d)
	if err != nil {
		return step{}, err
	}
	msg := fmt.Sprintf(msgMSCHAPCodeSent, maskAddress(d.Address))
	return finishMSCHAP(st, func(d Decision) Decision {
		if d.Action == ActionChallenge {
			d = Decision{Action: ActionReject, Message: msg, TxID: d.TxID, Reason: d.Reason + "; sign in again with it (MS-CHAPv2)"}
		}
		return d
	}), nil
}

// finishMSCHAP applies f to the final decision of st, after every stage
// that follows it (delivery, push wait).
func finishMSCHAP(st step, f func(Decision) Decision) step {
	if st.next == nil {
		st.d = f(st.d)
		return st
	}
	next := st.next
	st.next = func(ctx context.Context) (step, error) {
		s, err := next(ctx)
		if err != nil {
			return s, err
		}
		return finishMSCHAP(s, f), nil
	}
	return st
}

// mschapCode returns where a code sent for an MS-CHAPv2 login is kept and
// what is kept of it. Without a State to find it by, its key is derived
// from the user name, complemented so that it is not the SHA-256 of
// anything: no State value can reach it (stateKey). The code is kept as
// its NT hash, which MS-CHAPv2 needs to recognise it; for a short
// single-use code that expires in minutes this is no weaker than the
// SHA-256 kept for PAP.
func mschapCode(user, code string) (key, hash []byte) {
	k := sha256.Sum256([]byte("radmfa mschap code\x00" + user))
	for i := range k {
		k[i] = ^k[i]
	}
	h, _ := mschap.NTPasswordHash([]byte(code)) // digits: cannot fail
	return k[:], h[:]
}

// takeMSCHAPCode takes the user's pending MS-CHAPv2 code, if one can
// still be used from this client.
func (e *Engine) takeMSCHAPCode(ctx context.Context, tx Tx, r *request) (*Challenge, error) {
	key, _ := mschapCode(r.ev.User, "")
	c, err := tx.TakeChallenge(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Kind != ChallengeCode || c.User != r.ev.User || len(c.CodeHash) != mschap.HashLen || !r.now.Before(c.Expires) {
		return nil, nil // expired or not ours: dropped
	}
	if cl := clientOf(r.req); c.Client != "" && cl != "" && c.Client != cl {
		// Sent for a login through another RADIUS client: the user has
		// moved on (a code is bound to its client, like a State).
		return nil, nil
	}
	return &c, nil
}

// keepMSCHAPCode puts a pending code back after a login that did not use
// it. A failed login counts as a wrong answer to it, and its last allowed
// wrong answer drops it, as for PAP.
func (e *Engine) keepMSCHAPCode(ctx context.Context, tx Tx, c *Challenge, wrong bool) error {
	if c == nil {
		return nil
	}
	if wrong {
		c.Attempts++
		if c.Attempts >= e.cfg.Codes.attempts() {
			return nil
		}
	}
	return tx.PutChallenge(ctx, *c)
}
