// Package rlmrest speaks the protocol of FreeRADIUS's rlm_rest module
// (body = 'json', called from authorize): the request arrives as a JSON
// object of attributes, the reply leaves as JSON attributes plus an HTTP
// status that rlm_rest turns into the module's rcode.
//
// The status table, one place for every answer:
//
//	200  accept      {"control:Auth-Type": "Accept"}                        rcode updated
//	200  accept      MS-CHAPv2: control:NT-Password (the NT hash of the
//	                 passcode radmfa matched) and
//	                 control:MS-CHAP-Use-NTLM-Auth = No; mschap then
//	                 completes the exchange                                 rcode updated
//	200  challenge   reply:State, reply:Reply-Message,
//	                 control:Response-Packet-Type = Access-Challenge        rcode updated
//	401  reject      reply:Reply-Message                                    rcode reject
//	500  fail        radmfa could not decide                                rcode fail
//	403  no reply    radmfa is shutting down: the policy answers
//	                 do_not_respond, so the NAS retransmits to a restarted
//	                 radmfa                                                 rcode userlock
//
// Every value goes out with "do_xlat": false, so nothing radmfa returns is
// expanded by FreeRADIUS (a user name like %{User-Password} stays text).
// rlm_rest still reads backslash escapes in every value (\n, \t, \101 …,
// tested against FreeRADIUS 3.2), so each backslash goes out doubled.
//
// An MS-CHAPv2 request's reject also carries reply:MS-CHAP-Error, as
// rlm_mschap's own rejects do: "E=691" (wrong passcode) or "E=647"
// (account locked), so the client reports a failed logon and not a
// protocol error.
//
// rlm_rest sends each byte >= 0x80 of a string as its own \u00XX escape;
// ParseRequest decodes those back to UTF-8.
package rlmrest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// Statuses; see the package documentation.
const (
	StatusAccept    = 200
	StatusChallenge = 200
	StatusReject    = 401
	StatusNoReply   = 403
	StatusFail      = 500
)

// MaxBody is the largest request body accepted. A RADIUS packet is at most
// 4 KiB; its JSON form with escapes fits well within this.
const MaxBody = 64 << 10

// Query parameters the shipped snippet adds to the URI: facts FreeRADIUS
// knows about the packet that are not in the request list.
const (
	QueryClient = "client" // %{client:shortname}
	QueryIP     = "ip"     // %{Packet-Src-IP-Address}
	QueryPort   = "port"   // %{Packet-Src-Port}
	QueryAuth   = "auth"   // %{Packet-Authentication-Vector} (0x…)
)

// attr is one attribute in rlm_rest's JSON body.
type attr struct {
	Type  string            `json:"type"`
	Value []json.RawMessage `json:"value"`
}

// Packet describes the RADIUS packet a request came in, for recognising
// retransmissions.
type Packet struct {
	Authenticator []byte // the Request Authenticator (16 bytes)
}

// ParseRequest reads rlm_rest's JSON body and the URI's query into a
// Request. Like rlmexec.ParseEnv it returns as much as it could read along
// with the error, so that a refusal can name the user.
func ParseRequest(body []byte, query url.Values) (mfa.Request, Packet, error) {
	req := mfa.Request{FrontDoor: mfa.FrontDoorREST}
	var pkt Packet
	var errs []error
	req.NAS.ClientName = query.Get(QueryClient)
	if ip := query.Get(QueryIP); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			errs = append(errs, fmt.Errorf("query %s: not an IP address", QueryIP))
		} else {
			req.NAS.ClientIP = ip
		}
	}
	if p := query.Get(QueryPort); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			errs = append(errs, fmt.Errorf("query %s: not a port number", QueryPort))
		}
		req.NAS.ClientPort = int(n)
	}
	if a := query.Get(QueryAuth); a != "" {
		b, err := octets(a)
		if err != nil || len(b) != 16 {
			errs = append(errs, fmt.Errorf("query %s: want 0x and 32 hex digits", QueryAuth))
		}
		pkt.Authenticator = b
	}

	var attrs map[string]attr
	if err := json.Unmarshal(body, &attrs); err != nil {
		return req, pkt, errors.Join(append(errs, fmt.Errorf("body is not rlm_rest JSON: %w", jsonError(err)))...)
	}
	str := func(name string, dst *string) {
		a, ok := attrs[name]
		if !ok {
			return
		}
		v, err := a.first()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		*dst = v
	}
	str("NAS-IP-Address", &req.NAS.IPAddress)
	str("NAS-Identifier", &req.NAS.Identifier)
	str("Called-Station-Id", &req.NAS.CalledStationID)
	str("Calling-Station-Id", &req.NAS.CallingStationID)
	if _, ok := attrs["User-Name"]; !ok {
		errs = append(errs, errors.New("no User-Name in the request"))
	}
	str("User-Name", &req.UserName)
	var pass string
	str("User-Password", &pass)
	req.Passcode = mfa.Secret(pass)
	if a, ok := attrs["State"]; ok {
		v, err := a.first()
		if err == nil {
			req.State, err = octets(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute State: %w", err))
		}
	}
	for _, name := range []string{"CHAP-Password", "MS-CHAP-Response"} {
		if _, ok := attrs[name]; ok {
			errs = append(errs, errors.New("CHAP or MS-CHAPv1 request: radmfa needs PAP or MS-CHAPv2 here"))
			break
		}
	}
	if _, ok := attrs["MS-CHAP2-Response"]; ok {
		if _, ok := attrs["User-Password"]; ok {
			errs = append(errs, errors.New("both User-Password and MS-CHAP2-Response"))
		}
		m, err := parseMSCHAPv2(attrs)
		if err != nil {
			errs = append(errs, err)
		}
		req.MSCHAP = m
	}
	return req, pkt, errors.Join(errs...)
}

// Sizes of the MS-CHAPv2 attributes (RFC 2548 §2.3.2, §2.1.1).
const (
	msCHAP2ResponseLen = 50 // Ident, Flags, Peer-Challenge (16), Reserved (8), Response (24)
	msCHAPChallengeLen = mschap.ChallengeLen
)

// parseMSCHAPv2 reads an MS-CHAPv2 request: MS-CHAP-Challenge (the
// authenticator challenge) and MS-CHAP2-Response, whose NT-Response
// encrypts the challenge hash of both challenges and the user name. The
// name is MS-CHAP-User-Name if the request has one (EAP-MSCHAPv2), else
// User-Name, without an NT domain ("CORP\bob" → "bob"), as rlm_mschap
// computes it (with_ntdomain_hack, the default).
func parseMSCHAPv2(attrs map[string]attr) (*mfa.MSCHAPv2, error) {
	resp, err := octetsAttr(attrs, "MS-CHAP2-Response", msCHAP2ResponseLen)
	if err != nil {
		return nil, err
	}
	challenge, err := octetsAttr(attrs, "MS-CHAP-Challenge", msCHAPChallengeLen)
	if err != nil {
		return nil, fmt.Errorf("MS-CHAP2-Response: %w", err)
	}
	nameAttr := "MS-CHAP-User-Name"
	if _, ok := attrs[nameAttr]; !ok {
		nameAttr = "User-Name"
	}
	name, err := attrs[nameAttr].raw()
	if err != nil {
		return nil, fmt.Errorf("MS-CHAP2-Response: %s: %w", nameAttr, err)
	}
	if i := strings.IndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	var m mfa.MSCHAPv2
	if m.ChallengeHash, err = mschap.ChallengeHash(resp[2:18], challenge, name); err != nil {
		return nil, fmt.Errorf("MS-CHAP2-Response: %w", err)
	}
	m.Ident = resp[0]
	copy(m.NTResponse[:], resp[26:50])
	return &m, nil
}

// octetsAttr reads an octets attribute of exactly n bytes.
func octetsAttr(attrs map[string]attr, name string, n int) ([]byte, error) {
	a, ok := attrs[name]
	if !ok {
		return nil, fmt.Errorf("no %s in the request", name)
	}
	v, err := a.first()
	if err == nil {
		var b []byte
		if b, err = octets(v); err == nil && len(b) != n {
			err = fmt.Errorf("%d bytes, want %d", len(b), n)
		}
		if err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", name, err)
}

// jsonError drops the input from JSON errors (it may hold a password).
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s has the wrong type", te.Field)
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return errors.New("malformed")
}

// maxValue caps one attribute value (253 octets, escaping aside).
const maxValue = 4 * 253

// first returns the attribute's first value as text. Strings are decoded
// and repaired (see fixBytes); numbers are formatted; anything else is an
// error.
func (a attr) first() (string, error) {
	if len(a.Value) == 0 {
		return "", errors.New("no value")
	}
	raw := a.Value[0]
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("malformed string")
		}
		if len(s) > maxValue {
			return "", fmt.Errorf("value longer than %d bytes", maxValue)
		}
		return fixBytes(s), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", errors.New("value is neither a string nor a number")
	}
	return n.String(), nil
}

// raw returns the attribute's first string value as the bytes the packet
// carried: rlm_rest sends each byte >= 0x80 as its own \u00XX escape, so
// every rune up to U+00FF is one byte. (first repairs the text for
// display and lookup, which changes bytes that are not UTF-8.)
func (a attr) raw() (string, error) {
	if len(a.Value) == 0 {
		return "", errors.New("no value")
	}
	var s string
	if err := json.Unmarshal(a.Value[0], &s); err != nil {
		return "", errors.New("not a string")
	}
	if len(s) > maxValue {
		return "", fmt.Errorf("value longer than %d bytes", maxValue)
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s, nil // not from rlm_rest's escaping: keep the text
		}
		b = append(b, byte(r))
	}
	return string(b), nil
}

// fixBytes undoes rlm_rest's encoding of strings: it sends every byte >=
// 0x80 as its own \u00XX escape, so "ü" (C3 BC) arrives as two runes
// U+00C3 U+00BC. When every rune is below U+0100 and the runes read as
// bytes form valid UTF-8 (with at least one multi-byte sequence), those
// bytes are the original text. Otherwise the string is kept as decoded.
func fixBytes(s string) string {
	high := false
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		if r >= 0x80 {
			high = true
		}
		b = append(b, byte(r))
	}
	if !high || !utf8.Valid(b) {
		return s
	}
	return string(b)
}

// octets decodes "0x…" hex.
func octets(v string) ([]byte, error) {
	if !strings.HasPrefix(v, "0x") && !strings.HasPrefix(v, "0X") {
		return nil, errors.New("want 0x followed by hex digits")
	}
	b, err := hex.DecodeString(v[2:])
	if err != nil {
		return nil, errors.New("not valid hex")
	}
	return b, nil
}

// value is one attribute in a reply: never xlat-expanded.
type value struct {
	Op     string `json:"op"`
	Value  string `json:"value"`
	DoXlat bool   `json:"do_xlat"`
}

// set is a value for an attribute: its backslashes are doubled, because
// rlm_rest reads escape sequences even with do_xlat false.
func set(v string) value { return value{Op: ":=", Value: strings.ReplaceAll(v, `\`, `\\`)} }

// unescape is the inverse of set, as FreeRADIUS reads the value.
func unescape(v string) string { return strings.ReplaceAll(v, `\\`, `\`) }

// Response is an HTTP answer to rlm_rest.
type Response struct {
	Status int
	Body   []byte
}

// Respond turns a decision into rlm_rest's answer. A decision without a
// valid action (radmfa could not decide) is a fail.
func Respond(d mfa.Decision) Response { return RespondTo(mfa.Request{}, d) }

// MS-CHAP error codes (RFC 2759 §6).
const (
	msCHAPAccountDisabled = 647
	msCHAPAuthFailure     = 691
)

// msCHAPError is the MS-CHAP-Error of a rejected MS-CHAPv2 request: the
// response's Ident as its first byte (written as an octal escape, which
// rlm_rest reads back into the byte), then "E=… R=0 C=… V=3 M=…" with a
// fresh random challenge, as rlm_mschap writes it. R=0: no retry within
// this exchange; the user signs in again with a new code.
func msCHAPError(ident byte, d mfa.Decision) value {
	code := msCHAPAuthFailure
	if d.Message == mfa.MsgLocked {
		code = msCHAPAccountDisabled
	}
	msg := d.Message
	if msg == "" {
		msg = mfa.MsgFailed
	}
	var c [16]byte
	rand.Read(c[:]) // never fails (crypto/rand, Go 1.24+)
	v := set(fmt.Sprintf("E=%d R=0 C=%X V=3 M=%s", code, c, msg))
	v.Value = fmt.Sprintf(`\%03o`, ident) + v.Value
	return v
}

// RespondTo is Respond for the request the decision answers: see the
// package documentation for what an MS-CHAPv2 request's reject adds.
func RespondTo(req mfa.Request, d mfa.Decision) Response {
	m := map[string]value{}
	status := StatusFail
	switch d.Action {
	case mfa.ActionAccept:
		status = StatusAccept
		if d.MSCHAP != nil {
			// MS-CHAPv2: rlm_mschap checks the response against the NT
			// hash of the passcode radmfa matched, and derives
			// MS-CHAP2-Success and the MPPE keys (freeradius-notes §9).
			m["control:MS-CHAP-Use-NTLM-Auth"] = set("No")
			m["control:NT-Password"] = set(d.MSCHAP.NTPassword())
			break
		}
		m["control:Auth-Type"] = set("Accept")
	case mfa.ActionReject:
		status = StatusReject
		if req.MSCHAP != nil {
			m["reply:MS-CHAP-Error"] = msCHAPError(req.MSCHAP.Ident, d)
		}
	case mfa.ActionChallenge:
		if len(d.State) == 0 {
			return Respond(mfa.Decision{Message: d.Message})
		}
		status = StatusChallenge
		m["reply:State"] = set("0x" + hex.EncodeToString(d.State))
		m["control:Response-Packet-Type"] = set("Access-Challenge")
	}
	if d.Message != "" {
		m["reply:Reply-Message"] = set(d.Message)
	}
	body, _ := json.Marshal(m) // map[string]value cannot fail
	return Response{Status: status, Body: body}
}

// NoReply is the answer that makes FreeRADIUS send nothing (shutdown).
func NoReply() Response { return Response{Status: StatusNoReply, Body: []byte("{}")} }
