// Package ntlmauth speaks the protocol of an ntlm_auth helper as
// FreeRADIUS's rlm_mschap module calls it (its ntlm_auth option): the
// request arrives as command-line arguments only (the environment is empty
// and stdin is /dev/null), the answer leaves as one line on stdout and the
// exit code.
//
// The arguments rlm_mschap is configured to pass (freeradius-notes §6):
//
//	--request-nt-key --username=%{mschap:User-Name}
//	--domain=%{%{mschap:NT-Domain}:-NONE}
//	--challenge=%{%{mschap:Challenge}:-00} --nt-response=%{%{mschap:NT-Response}:-00}
//
// Both --flag=value and --flag value are accepted. Samba ntlm_auth flags
// that radmfa does not use (--allow-mschapv2, --request-lm-key,
// --helper-protocol=…, …) are ignored rather than refused, and returned in
// Request.Ignored so that the caller can log them or read its own flags.
//
// --challenge is 8 bytes: for MS-CHAPv2 the challenge hash of RFC 2759 §8.2
// (rlm_mschap computes it from both challenges and the user name), for
// MS-CHAPv1 the authenticator challenge itself. Either way the NT-Response
// is the challenge DES-encrypted under the password's NT hash, so one
// matcher (mschap.Match) serves both.
//
// Output:
//
//	success  exit 0, "NT_KEY: <32 hex digits>\n", the MD4 of the NT hash;
//	         rlm_mschap derives MS-CHAP2-Success and the MPPE keys from it.
//	failure  exit 1, one line whose text rlm_mschap maps to the MS-CHAP
//	         error the client sees: see Failure.
package ntlmauth

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/radmfa/radmfa/internal/mschap"
)

// Exit codes.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// maxValue caps any one argument value; a RADIUS User-Name is at most 253
// octets, which FreeRADIUS's escaping can grow at most fourfold.
const maxValue = 4 * 253

// Request is what rlm_mschap asked: whether the NT-Response was computed
// from a password radmfa knows.
type Request struct {
	// UserName is --username exactly as received: normally
	// %{mschap:User-Name}, the User-Name without a DOMAIN\ prefix. It may be
	// hostile; the engine validates and normalises it.
	UserName string
	// Domain is --domain, or "" when it is absent or NONE (the default the
	// recommended snippet passes when the request names no NT domain).
	Domain string
	// Challenge is --challenge: the 8 bytes the NT-Response encrypts.
	Challenge [mschap.ChallengeHashLen]byte
	// NTResponse is --nt-response. With the challenge it is enough to find
	// a short passcode offline: never log it (String leaves it out).
	NTResponse [mschap.NTResponseLen]byte
	// Ignored lists the flags the request carried that this protocol does
	// not use, in order, with their values ("" for a flag without one, and
	// for --password and --lm-response, whose values are dropped).
	Ignored []Flag
}

// Flag is one ignored command-line flag.
type Flag struct {
	Name  string // without the leading dashes
	Value string
}

// String describes the request without the challenge and NT-Response.
func (r Request) String() string {
	return fmt.Sprintf("ntlm_auth request for user %q domain %q", r.UserName, r.Domain)
}

// GoString keeps %#v as discreet as %v.
func (r Request) GoString() string { return r.String() }

// flagKind says whether a flag takes a value.
type flagKind uint8

const (
	flagUnknown flagKind = iota // value only with "=" or when the next argument is not a flag
	flagBool                    // never takes a value from the next argument
	flagValue                   // always takes a value
)

// samba returns the kind of a Samba ntlm_auth flag (and of the flags
// radmfa reads). A switch rather than a map keeps package init at zero.
func samba(name string) flagKind {
	switch name {
	case "username", "domain", "challenge", "nt-response",
		"helper-protocol", "workstation", "lm-response", "password",
		"require-membership-of", "pam-winbind-conf", "target-service",
		"target-hostname", "configfile", "debuglevel", "log-basename",
		"option", "s", "d", "l":
		return flagValue
	case "request-nt-key", "request-lm-key", "allow-mschapv2",
		"use-cached-creds", "offline-logon", "diagnostics", "verbose",
		"version", "V", "help", "?", "usage", "use-winbind-ccache":
		return flagBool
	}
	return flagUnknown
}

// Parse reads the request from the arguments rlm_mschap passes (without
// the program name or any radmfa subcommand). It always returns as much of
// the request as it could read, so that a refusal can still be recorded
// against the user; the error says everything that was wrong. Errors never
// contain the challenge or NT-Response.
func Parse(args []string) (Request, error) {
	var req Request
	var errs []error
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") || arg == "-" {
			errs = append(errs, fmt.Errorf("argument %d: unexpected %s", i+1, describe(arg)))
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		kind := samba(name)
		switch {
		case hasValue:
		case kind == flagValue:
			if i+1 == len(args) {
				errs = append(errs, fmt.Errorf("--%s: missing value", name))
				continue
			}
			i++
			value, hasValue = args[i], true
		case kind == flagUnknown && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
			i++
			value, hasValue = args[i], true
		}
		switch name {
		case "username", "domain", "challenge", "nt-response":
		case "password", "lm-response":
			// Samba flags whose values are secret: kept out of Ignored,
			// which callers may log.
			req.Ignored = append(req.Ignored, Flag{Name: name})
			continue
		default:
			req.Ignored = append(req.Ignored, Flag{Name: name, Value: value})
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("--%s given more than once", name))
			continue
		}
		seen[name] = true
		if len(value) > maxValue {
			errs = append(errs, fmt.Errorf("--%s: value longer than %d bytes", name, maxValue))
			continue
		}
		switch name {
		case "username":
			if value == "" {
				errs = append(errs, errors.New("--username is empty"))
			}
			req.UserName = value
		case "domain":
			if !strings.EqualFold(value, "NONE") {
				req.Domain = value
			}
		case "challenge":
			if err := decodeHex(req.Challenge[:], value); err != nil {
				errs = append(errs, fmt.Errorf("--challenge: %w", err))
			}
		case "nt-response":
			if err := decodeHex(req.NTResponse[:], value); err != nil {
				errs = append(errs, fmt.Errorf("--nt-response: %w", err))
			}
		}
	}
	for _, name := range []string{"username", "challenge", "nt-response"} {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("--%s is missing", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return req, fmt.Errorf("ntlmauth: %w", err)
	}
	return req, nil
}

// describe names an unexpected argument without repeating a long value.
func describe(arg string) string {
	switch {
	case arg == "--":
		return `"--"`
	case len(arg) > 32:
		return fmt.Sprintf("argument of %d bytes", len(arg))
	}
	return fmt.Sprintf("argument %q", arg)
}

// decodeHex decodes exactly len(dst) bytes of hex (either case) into dst.
// rlm_mschap passes "00" when the request has no MS-CHAP attributes, which
// is reported as a wrong size.
func decodeHex(dst []byte, s string) error {
	switch {
	case s == "":
		return errors.New("empty value")
	case len(s)%2 != 0:
		return fmt.Errorf("odd number of hex digits (%d)", len(s))
	case len(s) != 2*len(dst):
		return fmt.Errorf("%d bytes, want %d (%d hex digits)", len(s)/2, len(dst), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		clear(dst)
		return errors.New("not hex")
	}
	return nil
}

// Failure is why the helper refuses. rlm_mschap looks for fixed strings in
// the helper's output and turns them into the MS-CHAP error the client
// sees. The zero value is invalid.
type Failure uint8

// Failures, with the line each writes and what rlm_mschap makes of it.
const (
	FailureInvalid   Failure = iota
	WrongPassword            // "Logon failure (0xc000006d)": E=691, reject
	AccountLockedOut         // "Account locked out (0xc0000234)": E=647, reject
	PasswordExpired          // "Password expired (0xc0000224)": E=648, reject
	AccountDisabled          // "Account disabled (0xc0000072)": E=691, reject
	NoLogonServers           // "No logon servers (0xc000005e)": rcode fail (radmfa could not decide)
)

// failureLines are Samba's NT status texts and codes, as ntlm_auth prints
// them ("%s (0x%x)"): rlm_mschap matches either part, case-insensitively.
var failureLines = [...]string{
	WrongPassword:    "Logon failure (0xc000006d)",
	AccountLockedOut: "Account locked out (0xc0000234)",
	PasswordExpired:  "Password expired (0xc0000224)",
	AccountDisabled:  "Account disabled (0xc0000072)",
	NoLogonServers:   "No logon servers (0xc000005e)",
}

// String returns the line the failure writes.
func (f Failure) String() string {
	if f != FailureInvalid && int(f) < len(failureLines) {
		return failureLines[f]
	}
	return fmt.Sprintf("Failure(%d)", f)
}

// WriteSuccess writes the NT_KEY line for the matched password's NT_KEY
// (mschap.NTKey, or mschap.HashNTPasswordHash of its NT hash) in one write
// and returns ExitSuccess. The hex digits are uppercase, as Samba prints
// them; rlm_mschap accepts either case.
func WriteSuccess(w io.Writer, ntKey mschap.Hash) (int, error) {
	if _, err := io.WriteString(w, "NT_KEY: "+ntKey.Hex()+"\n"); err != nil {
		return ExitFailure, fmt.Errorf("ntlmauth: writing NT_KEY: %w", err)
	}
	return ExitSuccess, nil
}

// WriteFailure writes the failure's line and returns ExitFailure. An
// invalid Failure is written as NoLogonServers: when radmfa cannot say why
// it refuses, it must not look like a wrong password to lockout policies
// on the client side, and it must not succeed.
func WriteFailure(w io.Writer, f Failure) (int, error) {
	if f == FailureInvalid || int(f) >= len(failureLines) {
		f = NoLogonServers
	}
	if _, err := io.WriteString(w, failureLines[f]+"\n"); err != nil {
		return ExitFailure, fmt.Errorf("ntlmauth: writing failure: %w", err)
	}
	return ExitFailure, nil
}
