package mfa

import "fmt"

// FrontDoor names the protocol a request arrived through.
type FrontDoor uint8

// Front doors. The zero value is invalid.
const (
	FrontDoorInvalid     FrontDoor = iota
	FrontDoorExec                  // rlm_exec: radmfa exec
	FrontDoorREST                  // rlm_rest: radmfa serve
	FrontDoorNTLMAuth              // rlm_mschap's ntlm_auth: radmfa ntlm-auth
	FrontDoorCLI                   // an admin command (resync, bypass)
	FrontDoorSelfService           // the self-service enrollment page (Engine.VerifyCode)
)

var frontDoorNames = [...]string{"invalid", "exec", "rest", "ntlm-auth", "cli", "self-service"}

// String returns the name stored in events ("exec", "rest", …).
func (f FrontDoor) String() string {
	if int(f) < len(frontDoorNames) {
		return frontDoorNames[f]
	}
	return fmt.Sprintf("FrontDoor(%d)", f)
}

// ParseFrontDoor is the inverse of FrontDoor.String.
func ParseFrontDoor(s string) (FrontDoor, error) {
	for i, n := range frontDoorNames {
		if i > 0 && n == s {
			return FrontDoor(i), nil
		}
	}
	return FrontDoorInvalid, fmt.Errorf("mfa: unknown front door %q", s)
}

// NAS describes where a request came from. ClientName and ClientIP are what
// FreeRADIUS authenticated (Client-Shortname, Packet-Src-IP-Address); the
// other fields are attributes the NAS chose to send and may be spoofed, so
// they are recorded and shown but never used to pick a policy.
type NAS struct {
	ClientName       string // Client-Shortname
	ClientIP         string // Packet-Src-IP-Address
	ClientPort       int    // Packet-Src-Port
	IPAddress        string // NAS-IP-Address
	Identifier       string // NAS-Identifier
	CalledStationID  string // Called-Station-Id
	CallingStationID string // Calling-Station-Id (usually the client's IP or MAC)
}

// Request is one Access-Request as a front door understood it.
type Request struct {
	FrontDoor FrontDoor
	// UserName is User-Name exactly as received; it may be hostile (quotes,
	// newlines, invalid UTF-8, xlat expansions). The engine validates and
	// normalises it.
	UserName string
	// Passcode is what the user typed in the password field.
	Passcode Secret
	// MSCHAP, when set, is an MS-CHAPv2 response in place of a Passcode:
	// the engine finds which passcode produced it (mschapflow.go).
	MSCHAP *MSCHAPv2
	// State is the State attribute of an answer to an Access-Challenge.
	State []byte
	NAS   NAS
	// Authenticator is the packet's Request Authenticator, when the front
	// door knows it: with the client's address and port it recognises a
	// retransmission of the same packet.
	Authenticator []byte
}

// Maximum sizes of RADIUS string attributes (RFC 2865 §5: 253 octets).
const maxAttrLen = 253
