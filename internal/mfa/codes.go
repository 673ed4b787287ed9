package mfa

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// CodesConfig is the [codes] section: one-time codes sent by SMS or e-mail.
type CodesConfig struct {
	// Length of a code in digits: 6 (default) to 8.
	Length int `toml:"length"`
	// Lifetime of a code: default 5m.
	Lifetime Duration `toml:"lifetime"`
	// Attempts is how many wrong answers a code survives: default 3.
	Attempts int `toml:"attempts"`
	// RateLimit codes per RateWindow and user: default 3 per 10m.
	RateLimit  int      `toml:"rate_limit"`
	RateWindow Duration `toml:"rate_window"`
}

func (c CodesConfig) length() int {
	if c.Length == 0 {
		return 6
	}
	return c.Length
}

func (c CodesConfig) lifetime() time.Duration {
	if c.Lifetime == 0 {
		return 5 * time.Minute
	}
	return time.Duration(c.Lifetime)
}

func (c CodesConfig) attempts() int {
	if c.Attempts == 0 {
		return 3
	}
	return c.Attempts
}

func (c CodesConfig) rate() (int, time.Duration) {
	n, w := c.RateLimit, time.Duration(c.RateWindow)
	if n == 0 {
		n = 3
	}
	if w == 0 {
		w = 10 * time.Minute
	}
	return n, w
}

// Validate reports configuration errors.
func (c CodesConfig) Validate() error {
	var errs []error
	if l := c.length(); l < 6 || l > 8 {
		errs = append(errs, fmt.Errorf("codes.length = %d: want 6 to 8", l))
	}
	if l := c.lifetime(); l < 30*time.Second || l > time.Hour {
		errs = append(errs, fmt.Errorf("codes.lifetime = %s: want 30s to 1h", l))
	}
	if a := c.attempts(); a < 1 || a > 10 {
		errs = append(errs, fmt.Errorf("codes.attempts = %d: want 1 to 10", a))
	}
	if n, w := c.rate(); n < 1 || w < time.Minute {
		errs = append(errs, fmt.Errorf("codes.rate_limit = %d per %s: want at least 1 per 1m", n, w))
	}
	return errors.Join(errs...)
}

// codeDevice returns the user's first enabled device of the kind.
func codeDevice(devices []Device, kind DeviceKind) (Device, bool) {
	for _, d := range devices {
		if d.Kind == kind {
			return d, true
		}
	}
	return Device{}, false
}

// sendCode sends a one-time code to an SMS or e-mail device and answers
// Access-Challenge "Enter the code sent to …".
func (e *Engine) sendCode(ctx context.Context, tx Tx, r *request, d Device) (step, error) {
	r.ev.Method, r.ev.Device = methodOf(d), d.Name
	if e.notifier == nil {
		return e.failMode(r, fmt.Sprintf("%s code not sent: no notifier is configured", r.ev.Method))
	}
	limit, window := e.cfg.Codes.rate()
	n, err := tx.CountCodeSends(ctx, r.ev.User, r.now.Add(-window))
	if err != nil {
		return step{}, err
	}
	if n >= limit {
		return reject(r, fmt.Sprintf("code refused: more than %d codes in %s", limit, window), MsgRateLimited), nil
	}
	code, err := e.randomDigits(e.cfg.Codes.length())
	if err != nil {
		return step{}, err
	}
	target := maskAddress(d.Address)
	state := make([]byte, stateLen)
	if _, err := e.rand.Read(state); err != nil {
		return step{}, err
	}
	ch := Challenge{Key: stateKey(state), User: r.ev.User, TxID: r.ev.TxID, Kind: ChallengeCode,
		Client: clientOf(r.req), Expires: r.now.Add(e.cfg.Codes.lifetime()), CodeHash: codeHash(code),
		Target: target, Channel: r.ev.Method, DeviceID: d.ID}
	if r.req.MSCHAP != nil {
		// MS-CHAPv2 cannot answer a challenge: the code waits for the
		// user's next MS-CHAPv2 login (mschapflow.go).
		ch.Key, ch.CodeHash = mschapCode(r.ev.User, code)
	}
	if err := tx.PutChallenge(ctx, ch); err != nil {
		return step{}, err
	}
	if err := tx.RecordCodeSend(ctx, r.ev.User, r.ev.Method, r.now); err != nil {
		return step{}, err
	}
	r.ev.Result = ResultChallenge
	r.ev.Message = fmt.Sprintf("%s code sent to %s", r.ev.Method, target)
	msg := "Enter the code sent to " + target
	n2 := Notification{Kind: NotifyCode, Notifier: d.Notifier, User: r.ev.User, To: d.Address, Subject: "Your sign-in code",
		Text: fmt.Sprintf("Your sign-in code is %s. It expires in %d minutes. Never give it to anyone.", code, int(e.cfg.Codes.lifetime().Minutes())),
		Code: Secret(code)}
	decision := Decision{Action: ActionChallenge, Message: msg, State: state, TxID: r.ev.TxID, Reason: r.ev.Message}
	st := step{events: []Event{r.ev}}
	st.next = func(ctx context.Context) (step, error) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := deliveryErr(e.notifier.Notify(dctx, n2))
		cancel()
		if err == nil {
			return step{d: decision}, nil
		}
		return e.inTx(context.WithoutCancel(ctx), func(tx Tx) (step, error) {
			r.ev.Time = e.now().UTC().Truncate(time.Millisecond)
			return e.undelivered(r, fmt.Sprintf("%s code could not be delivered", r.ev.Method), err)
		})
	}
	return st, nil
}

// checkCode checks the answer to "Enter the code sent to …". A wrong code
// is asked for again, with a new State, until the attempts run out. A
// valid code from the authenticator app is accepted too.
func (e *Engine) checkCode(ctx context.Context, tx Tx, r *request, ch Challenge, code string) (step, error) {
	r.ev.Method = ch.Channel
	if subtle.ConstantTimeCompare(codeHash(code), ch.CodeHash) == 1 {
		for _, d := range r.devices {
			if d.ID == ch.DeviceID {
				r.ev.Device = d.Name
			}
		}
		return e.success(ctx, tx, r, fmt.Sprintf("%s code accepted", ch.Channel))
	}
	if ClassifyPasscode(code) == TriggerCode {
		if st, err := e.verifyOTP(ctx, tx, r, code); err != nil || st.d.Action == ActionAccept {
			return st, err
		}
		r.ev.Method = ch.Channel
	}
	st, err := e.failure(ctx, tx, r, fmt.Sprintf("wrong %s code", ch.Channel), MsgFailed)
	if err != nil || ch.Attempts+1 >= e.cfg.Codes.attempts() {
		return st, err
	}
	state := make([]byte, stateLen)
	if _, err := e.rand.Read(state); err != nil {
		return step{}, err
	}
	ch.Key, ch.Attempts = stateKey(state), ch.Attempts+1
	if err := tx.PutChallenge(ctx, ch); err != nil {
		return step{}, err
	}
	st.d = Decision{Action: ActionChallenge, Message: "Wrong code. Enter the code sent to " + ch.Target, State: state,
		TxID: r.ev.TxID, Reason: st.d.Reason}
	return st, nil
}

// deliveryErr is a notification's failure: an error (the notifier could
// not be reached or did not answer in time), or a delivery the notifier
// reports as failed (a gateway that refused the message), which comes
// without an error and is an errRefused.
func deliveryErr(d Delivery, err error) error {
	switch {
	case err != nil:
		return err
	case d.Status != "failed":
		return nil
	case d.Detail == "":
		return errRefused{"the notifier reports a failed delivery"}
	}
	return errRefused{d.Detail}
}

// errRefused is a delivery the notifier tried and reports as failed.
type errRefused struct{ detail string }

func (e errRefused) Error() string { return e.detail }

// undelivered answers a login whose push or code could not be delivered.
// The profile's fail mode is for a notifier that is down. A message the
// notifier reports as refused (a wrong number or address, which a user may
// be able to set in the directory) is a Reject in every fail mode, or
// making the delivery fail would be a way in.
func (e *Engine) undelivered(r *request, why string, err error) (step, error) {
	if errors.As(err, new(errRefused)) {
		return reject(r, why+": "+err.Error()+" (refused by the notifier: never fails open)", MsgPushFailed), nil
	}
	return e.failMode(r, why+": "+err.Error())
}

func codeHash(code string) []byte {
	h := sha256.Sum256([]byte("radmfa code\x00" + code))
	return h[:]
}

// randomDigits returns n random decimal digits.
func (e *Engine) randomDigits(n int) (string, error) {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, err := e.randomNumber(0, 9)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte('0' + d))
	}
	return b.String(), nil
}

// maskAddress shows enough of a destination for the user to recognise it:
// +44…89, a…@example.com.
func maskAddress(a string) string {
	if i := strings.LastIndexByte(a, '@'); i > 0 {
		r, _ := utf8.DecodeRuneInString(a)
		return string(r) + "…" + a[i:]
	}
	if len(a) <= 5 {
		return "…" + a[max(0, len(a)-2):]
	}
	return a[:3] + "…" + a[len(a)-2:]
}

// bypass accepts, when the help desk has opened a window or issued a
// one-time code (seed 002), recording it so reports always show it.
func (e *Engine) bypass(ctx context.Context, tx Tx, r *request) (step, bool, error) {
	u := r.user
	switch {
	case r.now.Before(u.BypassUntil):
		r.ev.Method = MethodBypass
		st, err := e.success(ctx, tx, r, "help-desk bypass until "+u.BypassUntil.UTC().Format(time.RFC3339))
		return st, true, err
	case u.BypassCode != nil && r.now.Before(u.BypassCodeExpires) &&
		subtle.ConstantTimeCompare(codeHash(r.req.Passcode.Reveal()), u.BypassCode) == 1:
		if err := tx.UseBypassCode(ctx, u.ID); err != nil {
			return step{}, true, err
		}
		r.ev.Method = MethodBypass
		st, err := e.success(ctx, tx, r, "one-time bypass code used")
		return st, true, err
	}
	return step{}, false, nil
}

// BypassCodeHash is how a one-time bypass code is stored.
func BypassCodeHash(code string) []byte { return codeHash(code) }

// NewBypassCode returns a random one-time bypass code of 8 digits.
func (e *Engine) NewBypassCode() (string, error) { return e.randomDigits(8) }
