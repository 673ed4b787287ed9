package rlmrest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// EncodeRequest builds the body and query that rlm_rest (with the shipped
// snippet) would send for req: radmfa exec uses it to hand a request to
// radmfa serve, so both doors take exactly the same path. Strings are
// encoded as rlm_rest encodes them, one \u00XX escape per byte >= 0x80.
func EncodeRequest(req mfa.Request, pkt Packet) ([]byte, url.Values) {
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	add := func(name, typ, v string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		fmt.Fprintf(&b, `%q:{"type":%q,"value":[`, name, typ)
		if typ == "octets" {
			b.WriteString(`"` + v + `"`)
		} else {
			writeString(&b, v)
		}
		b.WriteString("]}")
	}
	add("User-Name", "string", req.UserName)
	add("User-Password", "string", req.Passcode.Reveal())
	if len(req.State) > 0 {
		add("State", "octets", "0x"+hex.EncodeToString(req.State))
	}
	for _, a := range []struct{ name, v string }{
		{"NAS-IP-Address", req.NAS.IPAddress},
		{"NAS-Identifier", req.NAS.Identifier},
		{"Called-Station-Id", req.NAS.CalledStationID},
		{"Calling-Station-Id", req.NAS.CallingStationID},
	} {
		if a.v != "" {
			add(a.name, "string", a.v)
		}
	}
	b.WriteByte('}')
	q := url.Values{}
	if req.NAS.ClientName != "" {
		q.Set(QueryClient, req.NAS.ClientName)
	}
	if req.NAS.ClientIP != "" {
		q.Set(QueryIP, req.NAS.ClientIP)
	}
	if req.NAS.ClientPort != 0 {
		q.Set(QueryPort, strconv.Itoa(req.NAS.ClientPort))
	}
	if len(pkt.Authenticator) > 0 {
		q.Set(QueryAuth, "0x"+hex.EncodeToString(pkt.Authenticator))
	}
	return []byte(b.String()), q
}

// writeString writes s as a JSON string the way rlm_rest does.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '/':
			b.WriteString(`\/`)
		case c < 0x20 || c >= 0x80:
			fmt.Fprintf(b, `\u%04X`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// DecodeResponse reads an answer of radmfa serve back into a decision, as
// rlm_rest and the shipped policy would interpret it. noReply reports the
// shutdown answer; a failure status gives a decision without an action.
func DecodeResponse(status int, body []byte) (d mfa.Decision, noReply bool, err error) {
	var m map[string]value
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return mfa.Decision{}, false, fmt.Errorf("rlmrest: response: %w", jsonError(err))
		}
	}
	d.Message = unescape(m["reply:Reply-Message"].Value)
	switch {
	case status == StatusNoReply:
		return mfa.Decision{}, true, nil
	case status == StatusReject:
		d.Action = mfa.ActionReject
	case status >= 200 && status < 300:
		switch {
		case m["control:Response-Packet-Type"].Value == "Access-Challenge":
			d.Action = mfa.ActionChallenge
			if d.State, err = octets(m["reply:State"].Value); err != nil {
				return mfa.Decision{}, false, fmt.Errorf("rlmrest: response State: %w", err)
			}
			if len(d.State) == 0 {
				return mfa.Decision{}, false, errors.New("rlmrest: response State: empty")
			}
		case m["control:Auth-Type"].Value == "Accept":
			d.Action = mfa.ActionAccept
		case m["control:NT-Password"].Value != "":
			b, err := octets(m["control:NT-Password"].Value)
			if err != nil || len(b) != mschap.HashLen {
				return mfa.Decision{}, false, errors.New("rlmrest: response NT-Password: want 0x and 32 hex digits")
			}
			d.Action, d.MSCHAP = mfa.ActionAccept, &mfa.MSCHAPResult{NTHash: mschap.Hash(b)}
		default:
			return mfa.Decision{}, false, errors.New("rlmrest: 2xx response without Accept or a challenge")
		}
	case status >= 500:
		// could not decide: no action
	default:
		return mfa.Decision{}, false, fmt.Errorf("rlmrest: unexpected status %d", status)
	}
	return d, false, nil
}
