package mfa

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by stores when a user, device or challenge does not
// exist.
var ErrNotFound = errors.New("mfa: not found")

// User is a person who can authenticate.
type User struct {
	ID          int64
	Name        string // normalised
	Disabled    bool
	Failures    int       // consecutive failures (lockout)
	LockedUntil time.Time // zero when not locked
	// BypassUntil skips the second factor until then (help desk).
	BypassUntil time.Time
	// BypassCode is the SHA-256 of a one-time bypass code, valid until
	// BypassCodeExpires; nil when none.
	BypassCode        []byte
	BypassCodeExpires time.Time
}

// DeviceKind is the type of an OTP device.
type DeviceKind uint8

// Device kinds. The zero value is invalid.
const (
	DeviceInvalid DeviceKind = iota
	DeviceTOTP               // RFC 6238 time-based
	DeviceHOTP               // RFC 4226 counter-based
	DevicePush               // push approvals: an address on a notifier
	DeviceSMS                // one-time codes by SMS: a phone number on a notifier
	DeviceEmail              // one-time codes by e-mail: an address on a notifier
)

var deviceKindNames = [...]string{"invalid", "totp", "hotp", "push", "sms", "email"}

// Delivers reports whether the device is an address on a notifier (push,
// SMS, e-mail) rather than an OTP generator.
func (k DeviceKind) Delivers() bool { return k == DevicePush || k == DeviceSMS || k == DeviceEmail }

func (k DeviceKind) String() string {
	if int(k) < len(deviceKindNames) {
		return deviceKindNames[k]
	}
	return fmt.Sprintf("DeviceKind(%d)", k)
}

// ParseDeviceKind is the inverse of DeviceKind.String.
func ParseDeviceKind(s string) (DeviceKind, error) {
	for i, n := range deviceKindNames {
		if i > 0 && n == s {
			return DeviceKind(i), nil
		}
	}
	return DeviceInvalid, fmt.Errorf("mfa: unknown device kind %q", s)
}

// Device is one OTP generator (an authenticator app entry, a hardware token).
type Device struct {
	ID        int64
	UserID    int64
	Name      string
	Kind      DeviceKind
	Algorithm string // "SHA1", "SHA256" or "SHA512"
	Digits    int    // 6 or 8
	Period    int    // seconds per TOTP step
	Secret    Secret // the raw key bytes (OTP devices)
	Disabled  bool
	Address   string // push, SMS, e-mail: where the notifier delivers (ntfy topic, phone, address)
	Notifier  string // push, SMS, e-mail: the notifier's name ("" = the default one)
	// LastStep is the last accepted TOTP step or HOTP counter, -1 if none
	// (an imported HOTP token starting at counter n has n-1).
	LastStep int64
	// Drift is a TOTP device's clock offset in steps, learnt when it was
	// resynchronised.
	Drift int64
}

// ChallengeKind says what the answer to an Access-Challenge must contain.
type ChallengeKind uint8

// Challenge kinds. The zero value is invalid.
const (
	ChallengeInvalid  ChallengeKind = iota
	ChallengeOTP                    // "Enter the code from your authenticator app"
	ChallengePush                   // "Approve … then press Enter": the answer waits for the push
	ChallengeFallback               // after a push timed out: a code, or Enter for another push
	ChallengeResync                 // "Enter the next code to resynchronise your token"
	ChallengeCode                   // "Enter the code sent to …" (SMS, e-mail)
)

var challengeKindNames = [...]string{"invalid", "otp", "push", "fallback", "resync", "code"}

func (k ChallengeKind) String() string {
	if int(k) < len(challengeKindNames) {
		return challengeKindNames[k]
	}
	return fmt.Sprintf("ChallengeKind(%d)", k)
}

// ParseChallengeKind is the inverse of ChallengeKind.String.
func ParseChallengeKind(s string) (ChallengeKind, error) {
	for i, n := range challengeKindNames {
		if i > 0 && n == s {
			return ChallengeKind(i), nil
		}
	}
	return ChallengeInvalid, fmt.Errorf("mfa: unknown challenge kind %q", s)
}

// Challenge is the server side of an Access-Challenge. The State sent to the
// NAS is random; the store keeps only its SHA-256 (Key), so reading the
// database does not reveal live State values.
type Challenge struct {
	Key     []byte // SHA-256 of the State value
	User    string // normalised user name it was issued to
	TxID    string
	Kind    ChallengeKind
	Client  string // RADIUS client it was issued to
	Expires time.Time
	PushID  int64 // ChallengePush: the push it stands for
	// ChallengeResync: the device and the step/counter of the first code.
	DeviceID int64
	Counter  int64
	// ChallengeCode: the SHA-256 of the code sent, wrong answers so far,
	// the masked destination and the channel (MethodSMS, MethodEmail).
	CodeHash []byte
	Attempts int
	Target   string
	Channel  Method
}

// Store gives the engine transactional access to its state. Update runs fn
// in one write transaction: everything fn did is committed together when it
// returns nil, and nothing is when it returns an error. fn may be called
// more than once if the store retries, so it must not have other side
// effects.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
}

// Tx is what the engine may do inside a store transaction.
type Tx interface {
	UserSource
	ReplayGuard
	ChallengeStore
	EventLog
	PushStore
	Lockout
	CodeLog
	// SyncDevice records a resynchronised device: its last accepted step
	// or counter and (TOTP) its drift.
	SyncDevice(ctx context.Context, deviceID, lastStep, drift int64) error
	// UseBypassCode clears the user's one-time bypass code.
	UseBypassCode(ctx context.Context, userID int64) error
}

// CodeLog remembers the SMS and e-mail codes sent, for the rate limit.
type CodeLog interface {
	RecordCodeSend(ctx context.Context, user string, channel Method, at time.Time) error
	CountCodeSends(ctx context.Context, user string, since time.Time) (int, error)
}

// Lockout counts consecutive failures per user.
type Lockout interface {
	// RecordFailure adds a failure; when the count reaches max it locks
	// the user until lockUntil and resets the count, and reports true. A
	// failure with the same non-empty key as the previous one (the NAS
	// retransmitting the same packet) is not counted again.
	RecordFailure(ctx context.Context, userID int64, max int, lockUntil time.Time, key string) (locked bool, err error)
	// ResetFailures clears the count and any lock.
	ResetFailures(ctx context.Context, userID int64) error
}

// UserSource looks up users and their devices.
type UserSource interface {
	// LookupUser returns the user with the normalised name, or ErrNotFound.
	LookupUser(ctx context.Context, name string) (User, error)
	// Devices returns the user's devices with their secrets, enabled or not.
	Devices(ctx context.Context, userID int64) ([]Device, error)
}

// ReplayGuard remembers which OTP steps were used.
type ReplayGuard interface {
	// UseStep records that the device accepted the time step or counter.
	// It is an atomic compare-and-set: it returns false, and records
	// nothing, when that step or a later one was already used.
	UseStep(ctx context.Context, deviceID, step int64) (bool, error)
}

// ChallengeStore keeps Access-Challenge state.
type ChallengeStore interface {
	PutChallenge(ctx context.Context, c Challenge) error
	// TakeChallenge removes and returns the challenge with the key, expired
	// or not, or ErrNotFound. Taking makes every State single-use.
	TakeChallenge(ctx context.Context, key []byte) (Challenge, error)
}

// EventLog records events.
type EventLog interface {
	AddEvent(ctx context.Context, e Event) error
}
