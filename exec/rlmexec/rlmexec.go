// Package rlmexec speaks the protocol of FreeRADIUS's rlm_exec module
// (wait = yes, shell_escape = yes): the request arrives as environment
// variables, the reply leaves as attribute lines on stdout, and the exit
// code becomes the module's rcode.
//
// Exit codes:
//
//	0  Accept     rcode ok: the snippet sets control:Auth-Type := Accept
//	1  Reject     rcode reject: Access-Reject carrying the Reply-Message
//	2  Fail       rcode fail: radmfa could not decide (Access-Reject)
//	4  Challenge  rcode handled: the snippet sets Response-Packet-Type
//	              := Access-Challenge; State and Reply-Message are in reply
//	6  NoReply    rcode userlock: radmfa serve is restarting; the snippet
//	              answers nothing, so the NAS retransmits later
//
// A challenge uses its own exit code rather than "0 plus a State" so that a
// site which forgets the challenge recipe answers with a Reject, never an
// Accept: handled stops the authorize section before Auth-Type := Accept.
//
// Output is built only from server-generated text, single-quoted (FreeRADIUS
// silently drops a double-quoted value containing "%{"), stripped of control
// characters and capped far below the 1 KiB at which unparsable output
// crashes FreeRADIUS 3.2.
package rlmexec

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Exit codes; see the package documentation.
const (
	ExitAccept    = 0
	ExitReject    = 1
	ExitFail      = 2
	ExitChallenge = 4
	ExitNoReply   = 6
)

// maxValue caps any one environment value we read; RADIUS attributes are at
// most 253 octets, which escaping can grow at most fourfold.
const maxValue = 4 * 253

// ParseEnv reads the request from the environment FreeRADIUS gives the
// program (KEY=VALUE strings as os.Environ returns them). It always returns
// as much of the request as it could read, so that a refusal can still be
// recorded against the user; the error says what was malformed.
//
// A missing User-Password is an empty passcode (the empty trigger): many
// NASes, and radclient, leave the attribute out when the password field is
// empty. A CHAP or MS-CHAP request is an error instead: the passcode is
// hashed, so there is nothing to verify here (MS-CHAP goes through the
// ntlm-auth front door).
func ParseEnv(environ []string) (mfa.Request, error) {
	req := mfa.Request{FrontDoor: mfa.FrontDoorExec}
	var errs []error
	var haveUser, chap bool
	for _, kv := range environ {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		var dst *string
		switch name {
		case "USER_NAME":
			dst, haveUser = &req.UserName, true
		case "USER_PASSWORD":
			v, err := stringValue(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("USER_PASSWORD: %w", err))
				continue
			}
			req.Passcode = mfa.Secret(v)
			continue
		case "CHAP_PASSWORD", "MS_CHAP_RESPONSE", "MS_CHAP2_RESPONSE":
			chap = true
			continue
		case "STATE":
			v, err := octetsValue(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("STATE: %w", err))
				continue
			}
			req.State = v
			continue
		case "NAS_IP_ADDRESS":
			dst = &req.NAS.IPAddress
		case "NAS_IDENTIFIER":
			dst = &req.NAS.Identifier
		case "CALLED_STATION_ID":
			dst = &req.NAS.CalledStationID
		case "CALLING_STATION_ID":
			dst = &req.NAS.CallingStationID
		case "PACKET_SRC_IP_ADDRESS":
			dst = &req.NAS.ClientIP
		case "PACKET_SRC_PORT":
			p, err := strconv.ParseUint(raw, 10, 16)
			if err != nil {
				errs = append(errs, errors.New("PACKET_SRC_PORT: not a port number"))
				continue
			}
			req.NAS.ClientPort = int(p)
			continue
		default:
			continue
		}
		v, err := stringValue(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			v = raw[:min(len(raw), maxValue)] // kept only to name the request in the event
		}
		*dst = v
	}
	if !haveUser {
		errs = append(errs, errors.New("no User-Name in the request"))
	}
	if chap {
		errs = append(errs, errors.New("CHAP or MS-CHAP request: radmfa exec needs PAP (MS-CHAP goes through radmfa ntlm-auth)"))
	}
	if req.NAS.ClientIP != "" {
		if _, err := netip.ParseAddr(req.NAS.ClientIP); err != nil {
			errs = append(errs, errors.New("PACKET_SRC_IP_ADDRESS: not an IP address"))
		}
	}
	return req, errors.Join(errs...)
}

// stringValue decodes a value as rlm_exec writes strings with shell_escape:
// double-quoted with \\ \" \n \r \t and \ooo escapes. Unquoted values
// (integers, addresses, enumerated names) are returned as they are.
func stringValue(raw string) (string, error) {
	if len(raw) > maxValue {
		return "", fmt.Errorf("value longer than %d bytes", maxValue)
	}
	if !strings.HasPrefix(raw, `"`) {
		return raw, nil
	}
	if len(raw) < 2 || !strings.HasSuffix(raw, `"`) {
		return "", errors.New("unterminated quoted value")
	}
	s := raw[1 : len(raw)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return "", errors.New("unescaped quote inside a quoted value")
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("value ends in a lone backslash")
		}
		switch s[i] {
		case '\\', '"', '\'':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0', '1', '2', '3':
			if i+2 >= len(s) || !isOctal(s[i+1]) || !isOctal(s[i+2]) {
				return "", errors.New(`bad \ooo escape`)
			}
			b.WriteByte((s[i]-'0')<<6 | (s[i+1]-'0')<<3 | (s[i+2] - '0'))
			i += 2
		default:
			return "", fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return b.String(), nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// octetsValue decodes an octets attribute: 0x followed by hex digits. A
// quoted string is also accepted, as its bytes.
func octetsValue(raw string) ([]byte, error) {
	if strings.HasPrefix(raw, `"`) {
		s, err := stringValue(raw)
		return []byte(s), err
	}
	if !strings.HasPrefix(raw, "0x") && !strings.HasPrefix(raw, "0X") {
		return nil, errors.New("want 0x followed by hex digits")
	}
	if len(raw) > maxValue {
		return nil, fmt.Errorf("value longer than %d bytes", maxValue)
	}
	b, err := hex.DecodeString(raw[2:])
	if err != nil {
		return nil, errors.New("not valid hex")
	}
	return b, nil
}

// maxMessage caps a Reply-Message in the output.
const maxMessage = 200

// Write writes the reply attributes for the decision to w in one write and
// returns the exit code. A decision without a valid action (radmfa could not
// decide) gives ExitFail with the message.
func Write(w io.Writer, d mfa.Decision) (int, error) {
	var b strings.Builder
	code := ExitFail
	switch d.Action {
	case mfa.ActionAccept:
		code = ExitAccept
	case mfa.ActionReject:
		code = ExitReject
	case mfa.ActionChallenge:
		code = ExitChallenge
	}
	if d.Message != "" {
		b.WriteString("Reply-Message := ")
		b.WriteString(Quote(d.Message))
		b.WriteByte('\n')
	}
	if d.Action == mfa.ActionChallenge {
		if len(d.State) == 0 || len(d.State) > 253 {
			return ExitFail, errors.New("rlmexec: challenge without a usable State")
		}
		b.WriteString("State := 0x")
		b.WriteString(hex.EncodeToString(d.State))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return code, err
}

// Quote returns s as a single-quoted rlm_exec output value: backslashes and
// quotes escaped, control characters and invalid UTF-8 dropped, at most
// maxMessage bytes of text.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		size := utf8.RuneLen(r)
		if n+size > maxMessage {
			break
		}
		n += size
		if r == '\\' || r == '\'' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}
