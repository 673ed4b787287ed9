package mfa

import (
	"fmt"
	"time"
)

// Result is the outcome recorded in an event, in the vocabulary of SafeNet's
// authentication activity log (seed 003).
type Result uint8

// Results. The zero value is invalid.
const (
	ResultInvalid     Result = iota
	ResultChallenge          // a challenge was issued (push sent, code requested)
	ResultSuccess            // the user authenticated
	ResultFailure            // the attempt failed
	ResultOuterWindow        // Outer Window Authentication (token resync)
)

var resultNames = [...]string{"invalid", "Challenge", "Success", "Failure", "Outer Window Authentication"}

// String returns the name stored in events ("Challenge", "Success", …).
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("Result(%d)", r)
}

// ParseResult is the inverse of Result.String; it ignores case.
func ParseResult(s string) (Result, error) {
	for i, n := range resultNames {
		if i > 0 && equalFoldASCII(n, s) {
			return Result(i), nil
		}
	}
	return ResultInvalid, fmt.Errorf("mfa: unknown result %q (want Challenge, Success, Failure or Outer Window Authentication)", s)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// Method is the second-factor method an event concerns.
type Method string

// Methods. The empty Method means none applied (an invalid passcode, an
// unknown user).
const (
	MethodNone   Method = ""
	MethodTOTP   Method = "totp"
	MethodHOTP   Method = "hotp"
	MethodPush   Method = "push"
	MethodSMS    Method = "sms"
	MethodEmail  Method = "email"
	MethodBypass Method = "bypass" // help-desk bypass
)

// Event is one step of an authentication, as stored in the event log
// (SPEC §5). It never contains a passcode, code or secret: Trigger records
// only the class of what was typed.
type Event struct {
	Time      time.Time // UTC, millisecond precision
	TxID      string
	User      string // normalised user name (or a printable form of an invalid one)
	Result    Result
	Method    Method
	Trigger   Trigger
	Message   string
	FrontDoor FrontDoor
	Node      string
	Device    string // the device that answered, if any

	NASIPAddress     string
	NASIdentifier    string
	CalledStationID  string
	CallingStationID string
	Client           string // the RADIUS client FreeRADIUS authenticated (shortname or IP)
	Resource         string // what the user logged in to (NAS-Identifier, Called-Station-Id or configured)
}
