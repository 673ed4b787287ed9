package mfa

import "fmt"

// Action is what the RADIUS server should answer.
type Action uint8

// Actions. The zero value is invalid so that a forgotten assignment can never
// read as Accept.
const (
	ActionInvalid   Action = iota
	ActionAccept           // Access-Accept
	ActionReject           // Access-Reject
	ActionChallenge        // Access-Challenge with State and Reply-Message
)

var actionNames = [...]string{"invalid", "accept", "reject", "challenge"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", a)
}

// Decision is the engine's answer to a Request.
type Decision struct {
	Action Action
	// Message is shown to the user (Reply-Message). It never contains
	// user-supplied text.
	Message string
	// State is set for ActionChallenge: the opaque value the NAS must send
	// back with the answer.
	State []byte
	// TxID groups the events of one authentication (a challenge and its
	// answer share it).
	TxID string
	// Reason is the admin-facing explanation recorded in the event.
	Reason string
	// MSCHAP is set when an MS-CHAPv2 request is accepted: what the front
	// door needs to complete the exchange (the NT_KEY, control:NT-Password).
	MSCHAP *MSCHAPResult
}

// Messages shown to users (Reply-Message). They are fixed strings: user
// input never reaches a Reply-Message.
const (
	MsgEnterAppCode = "Enter the code from your authenticator app"
	MsgFailed       = "Authentication failed"
	MsgCodeUsed     = "This code was already used; wait for the next one"
	MsgExpired      = "The login attempt expired; please start again"
	MsgLocked       = "Your account is locked; try again later or contact the help desk"
	MsgResync       = "Enter the next code to resynchronise your token"
	MsgFallback     = "Enter the code from your authenticator app (or press Enter to send another push)"
	MsgPushDenied   = "The sign-in request was denied"
	MsgPushFailed   = "The sign-in request could not be sent; use a code from your authenticator app"
	MsgRateLimited  = "Too many sign-in requests; wait a few minutes or use a code from your authenticator app"
	// MsgUnavailable is shown when radmfa could not decide.
	MsgUnavailable = "Authentication is unavailable; please try again later"
)
