package rlmrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// body is a request body as rlm_rest 3.2 writes it (note \/ and the
// per-byte escapes).
const body = `{"User-Name":{"type":"string","value":["b\u00C3\u00BCb"]},"User-Password":{"type":"string","value":["123456"]},` +
	`"NAS-Port":{"type":"integer","value":[7]},"Service-Type":{"type":"integer","value":["Framed-User"]},` +
	`"State":{"type":"octets","value":["0x616263"]},"NAS-Identifier":{"type":"string","value":["vpn\/gw"]},` +
	`"Calling-Station-Id":{"type":"string","value":["203.0.113.7"]},"NAS-IP-Address":{"type":"ipaddr","value":["10.0.0.1"]}}`

func TestParseRequest(t *testing.T) {
	q := url.Values{"client": {"vpn"}, "ip": {"127.0.0.1"}, "port": {"4000"}, "auth": {"0x00112233445566778899aabbccddeeff"}}
	req, pkt, err := ParseRequest([]byte(body), q)
	if err != nil {
		t.Fatal(err)
	}
	want := mfa.NAS{ClientName: "vpn", ClientIP: "127.0.0.1", ClientPort: 4000, IPAddress: "10.0.0.1", Identifier: "vpn/gw", CallingStationID: "203.0.113.7"}
	if req.UserName != "büb" || req.Passcode.Reveal() != "123456" || string(req.State) != "abc" || req.NAS != want || req.FrontDoor != mfa.FrontDoorREST {
		t.Fatalf("got %+v", req)
	}
	if len(pkt.Authenticator) != 16 || pkt.Authenticator[1] != 0x11 {
		t.Fatalf("authenticator %x", pkt.Authenticator)
	}
}

func TestFixBytes(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ascii", "bob", "bob"},
		{"per-byte escaped utf8", "b\u00c3\u00bcb", "büb"},
		{"three-byte char", "\u00e2\u0082\u00ac", "€"},
		{"real latin-1 char kept", "b\u00fcb", "b\u00fcb"},
		{"real high rune kept", "日本", "日本"},
		{"invalid bytes kept as runes", "bob\u00ff", "bob\u00ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fixBytes(tt.in); got != tt.want {
				t.Fatalf("fixBytes(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name, body string
		query      url.Values
		want, user string
	}{
		{"not json", `User-Name=bob`, nil, "not rlm_rest JSON: syntax error at offset 1", ""},
		{"truncated", `{"User-Name":{"type":"string","value":["bob"]`, nil, "not rlm_rest JSON", ""},
		{"array", `[1,2]`, nil, "wrong type", ""},
		{"no user", `{"User-Password":{"type":"string","value":["1"]}}`, nil, "no User-Name", ""},
		{"user is a number", `{"User-Name":{"type":"string","value":[5]}}`, nil, "", "5"},
		{"user is an object", `{"User-Name":{"type":"string","value":[{"a":1}]}}`, nil, "User-Name: value is neither a string nor a number", ""},
		{"value not a list", `{"User-Name":{"type":"string","value":"bob"}}`, nil, "not rlm_rest JSON", ""},
		{"empty value list", `{"User-Name":{"type":"string","value":[]}}`, nil, "User-Name: no value", ""},
		{"state not hex", `{"User-Name":{"type":"string","value":["bob"]},"State":{"type":"octets","value":["0xzz"]}}`, nil, "State: not valid hex", "bob"},
		{"state without 0x", `{"User-Name":{"type":"string","value":["bob"]},"State":{"type":"octets","value":["abc"]}}`, nil, "State: want 0x", "bob"},
		{"bad client ip", `{"User-Name":{"type":"string","value":["bob"]}}`, url.Values{"ip": {"x"}}, "query ip", "bob"},
		{"bad port", `{"User-Name":{"type":"string","value":["bob"]}}`, url.Values{"port": {"70000"}}, "query port", "bob"},
		{"short authenticator", `{"User-Name":{"type":"string","value":["bob"]}}`, url.Values{"auth": {"0x0011"}}, "query auth", "bob"},
		{"mschap v1", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP-Response":{"type":"octets","value":["0x00"]}}`, nil, "MS-CHAPv1 request", "bob"},
		{"chap", `{"User-Name":{"type":"string","value":["bob"]},"CHAP-Password":{"type":"octets","value":["0x00"]}}`, nil, "CHAP or MS-CHAPv1 request", "bob"},
		{"huge value", `{"User-Name":{"type":"string","value":["` + strings.Repeat("a", 2000) + `"]}}`, nil, "longer than", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _, err := ParseRequest([]byte(tt.body), tt.query)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if req.UserName != tt.user {
				t.Fatalf("user %q, want %q", req.UserName, tt.user)
			}
		})
	}
	// The password never appears in an error.
	_, _, err := ParseRequest([]byte(`{"User-Password":{"type":"string","value":["s3cr3t"]},"User-Name":`), nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v", err)
	}
}

func TestRespond(t *testing.T) {
	tests := []struct {
		name   string
		d      mfa.Decision
		status int
		body   string
	}{
		{"accept", mfa.Decision{Action: mfa.ActionAccept}, 200, `{"control:Auth-Type":{"op":":=","value":"Accept","do_xlat":false}}`},
		{"reject", mfa.Decision{Action: mfa.ActionReject, Message: "Authentication failed"}, 401,
			`{"reply:Reply-Message":{"op":":=","value":"Authentication failed","do_xlat":false}}`},
		{"challenge", mfa.Decision{Action: mfa.ActionChallenge, Message: "Enter %{code}", State: []byte{1, 2}}, 200,
			`{"control:Response-Packet-Type":{"op":":=","value":"Access-Challenge","do_xlat":false},"reply:Reply-Message":{"op":":=","value":"Enter %{code}","do_xlat":false},"reply:State":{"op":":=","value":"0x0102","do_xlat":false}}`},
		{"fail", mfa.Decision{Message: mfa.MsgUnavailable}, 500, `{"reply:Reply-Message":{"op":":=","value":"` + mfa.MsgUnavailable + `","do_xlat":false}}`},
		{"challenge without state", mfa.Decision{Action: mfa.ActionChallenge, Message: "x"}, 500, `{"reply:Reply-Message":{"op":":=","value":"x","do_xlat":false}}`},
		{"backslashes doubled", mfa.Decision{Action: mfa.ActionReject, Message: `CORP\bob: \n`}, 401,
			`{"reply:Reply-Message":{"op":":=","value":"CORP\\\\bob: \\\\n","do_xlat":false}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Respond(tt.d)
			if r.Status != tt.status || string(r.Body) != tt.body {
				t.Fatalf("got %d %s\nwant %d %s", r.Status, r.Body, tt.status, tt.body)
			}
			back, noReply, err := DecodeResponse(r.Status, r.Body)
			if err != nil || noReply || back.Action != tt.d.Action && tt.status != 500 || back.Message != tt.d.Message {
				t.Fatalf("DecodeResponse: %+v %v %v", back, noReply, err)
			}
		})
	}
	if _, noReply, err := DecodeResponse(NoReply().Status, NoReply().Body); !noReply || err != nil {
		t.Fatalf("NoReply round trip: %v %v", noReply, err)
	}
}

func TestEncodeRequestRoundTrip(t *testing.T) {
	clean := mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "büb €", Passcode: mfa.Secret("p")}
	if got, _, err := ParseRequest(EncodeRequest(clean, Packet{})); err != nil || got.UserName != clean.UserName {
		t.Fatalf("UTF-8 name: %q, %v", got.UserName, err)
	}
	in := mfa.Request{FrontDoor: mfa.FrontDoorREST, UserName: "büb \"x\" \\ /\x01\xff", Passcode: mfa.Secret("p@ss"), State: []byte{0xde, 0xad},
		NAS: mfa.NAS{ClientName: "vpn", ClientIP: "192.0.2.1", ClientPort: 1812, Identifier: "gw", CallingStationID: "1.2.3.4", CalledStationID: "x", IPAddress: "10.0.0.1"}}
	body, q := EncodeRequest(in, Packet{Authenticator: bytes.Repeat([]byte{7}, 16)})
	if !bytes.Contains(body, []byte(`b\u00C3\u00BCb`)) || !bytes.Contains(body, []byte(`\/`)) {
		t.Fatalf("not rlm_rest's encoding: %s", body)
	}
	out, pkt, err := ParseRequest(body, q)
	if err != nil {
		t.Fatal(err)
	}
	// With a byte that is not UTF-8 in it, the name stays as rlm_rest's
	// escapes decode (one rune per byte), exactly as from FreeRADIUS; it
	// can only match no user.
	wantName := "b\u00c3\u00bcb \"x\" \\ /\x01\u00ff"
	if out.UserName != wantName || out.Passcode.Reveal() != "p@ss" || !bytes.Equal(out.State, in.State) || out.NAS != in.NAS || len(pkt.Authenticator) != 16 {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

// fakeDecider records calls and answers as configured.
type fakeDecider struct {
	decide  func(mfa.Request) (mfa.Decision, error)
	refused []string
	errors  []string
}

func (f *fakeDecider) Decide(_ context.Context, r mfa.Request) (mfa.Decision, error) {
	return f.decide(r)
}
func (f *fakeDecider) Refuse(_ context.Context, r mfa.Request, reason string) (mfa.Decision, error) {
	f.refused = append(f.refused, reason)
	return mfa.Decision{Action: mfa.ActionReject, Message: mfa.MsgFailed, TxID: "t1"}, nil
}
func (f *fakeDecider) RecordError(_ context.Context, r mfa.Request, tx, cause string) error {
	f.errors = append(f.errors, cause)
	return nil
}

func TestHandler(t *testing.T) {
	ok := func(mfa.Request) (mfa.Decision, error) { return mfa.Decision{Action: mfa.ActionAccept, TxID: "t"}, nil }
	tests := []struct {
		name    string
		method  string
		body    string
		decide  func(mfa.Request) (mfa.Decision, error)
		drain   bool
		status  int
		refused string
		errored string
	}{
		{"accept", "POST", body, ok, false, 200, "", ""},
		{"not json", "POST", "hello", ok, false, 401, "malformed request: body is not rlm_rest JSON", ""},
		{"missing user", "POST", `{}`, ok, false, 401, "malformed request: no User-Name", ""},
		{"huge body", "POST", `{"x":"` + strings.Repeat("a", MaxBody) + `"}`, ok, false, 401, "malformed request: request body larger than 64 KiB", ""},
		{"unknown attributes ignored", "POST", `{"User-Name":{"type":"string","value":["bob"]},"Foo-Bar":{"type":"x","value":[1]}}`, ok, false, 200, "", ""},
		{"store down", "POST", body, func(mfa.Request) (mfa.Decision, error) {
			return mfa.Decision{TxID: "t"}, errors.New("database is locked")
		}, false, 500, "", "database is locked"},
		{"draining", "POST", body, ok, true, 403, "", ""},
		{"GET", "GET", "", ok, false, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDecider{decide: tt.decide}
			h := &Handler{Decider: f, Log: zerolog.Nop()}
			if tt.drain {
				h.Drain()
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/radius/authorize?client=vpn", strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.refused != "" && (len(f.refused) != 1 || !strings.HasPrefix(f.refused[0], tt.refused)) {
				t.Fatalf("refused %q, want %q", f.refused, tt.refused)
			}
			if tt.errored != "" && (len(f.errors) != 1 || f.errors[0] != tt.errored) {
				t.Fatalf("recorded errors %q, want %q", f.errors, tt.errored)
			}
			if tt.status != 405 && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("body not JSON: %s", rec.Body)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(body, "vpn", "127.0.0.1", "0x00112233445566778899aabbccddeeff")
	f.Add(`{"User-Name":{"type":"string","value":["\u00ff"]}}`, "", "::1", "")
	f.Add(`{"State":{"value":["0x"]}}`, "x", "", "0x")
	f.Add(`{"User-Name":{"type":"string","value":["CORP\\b\u00FCb"]},"MS-CHAP-Challenge":{"type":"octets","value":["0x`+strings.Repeat("00", 16)+
		`"]},"MS-CHAP2-Response":{"type":"octets","value":["0x0700`+strings.Repeat("ab", 48)+`"]}}`, "", "", "")
	f.Fuzz(func(t *testing.T, body, client, ip, auth string) {
		req, pkt, err := ParseRequest([]byte(body), url.Values{"client": {client}, "ip": {ip}, "auth": {auth}})
		if len(req.UserName) > 4*maxValue || len(req.Passcode) > 4*maxValue {
			t.Fatalf("oversized values")
		}
		if err == nil && pkt.Authenticator != nil && len(pkt.Authenticator) != 16 {
			t.Fatalf("accepted authenticator of %d bytes", len(pkt.Authenticator))
		}
		if err == nil {
			// What parses also survives a round trip through EncodeRequest.
			b2, q2 := EncodeRequest(req, pkt)
			req2, _, err := ParseRequest(b2, q2)
			if err != nil || req2.UserName != req.UserName || req2.Passcode.Reveal() != req.Passcode.Reveal() {
				t.Fatalf("round trip of %q: %v %q", body, err, req2.UserName)
			}
		}
	})
}

// TestDecodeResponseMalformed: what radmfa exec makes of a daemon answer
// it cannot use is an error that says what was wrong, never a decision.
func TestDecodeResponseMalformed(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"not json", 200, `<html>`, "rlmrest: response"},
		{"truncated", 401, `{"reply:Reply-Message":{"value":"x"`, "rlmrest: response"},
		{"2xx without an answer", 200, `{}`, "without Accept or a challenge"},
		{"challenge without State", 200, `{"control:Response-Packet-Type":{"value":"Access-Challenge"}}`, "response State"},
		{"challenge with bad State", 200, `{"control:Response-Packet-Type":{"value":"Access-Challenge"},"reply:State":{"value":"0xzz"}}`, "response State"},
		{"challenge with empty State", 200, `{"control:Response-Packet-Type":{"value":"Access-Challenge"},"reply:State":{"value":"0x"}}`, "State: empty"},
		{"short NT-Password", 200, `{"control:NT-Password":{"value":"0x00"}}`, "NT-Password"},
		{"redirect", 302, `{}`, "unexpected status 302"},
		{"wrong value type", 401, `{"reply:Reply-Message":{"value":7}}`, "rlmrest: response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, err := DecodeResponse(tt.status, []byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %+v, %v; want an error with %q", d, err, tt.want)
			}
			if d.Action != mfa.ActionInvalid {
				t.Fatalf("an error came with a decision: %+v", d)
			}
		})
	}
}

// FuzzDecodeResponse: any answer either decodes or is an error without a
// decision, and what Respond writes decodes to the same decision.
func FuzzDecodeResponse(f *testing.F) {
	for _, d := range []mfa.Decision{
		{Action: mfa.ActionAccept},
		{Action: mfa.ActionReject, Message: `CORP\bob %{x}`},
		{Action: mfa.ActionChallenge, Message: "Enter the code", State: []byte{1, 2, 3}},
		{Message: mfa.MsgUnavailable},
	} {
		r := Respond(d)
		f.Add(r.Status, string(r.Body))
	}
	f.Add(StatusNoReply, "{}")
	f.Fuzz(func(t *testing.T, status int, body string) {
		d, noReply, err := DecodeResponse(status, []byte(body))
		if err != nil && (d.Action != mfa.ActionInvalid || noReply) {
			t.Fatalf("error %v with a decision %+v (no reply %v)", err, d, noReply)
		}
		if err != nil || noReply || d.Action == mfa.ActionInvalid {
			return
		}
		r := Respond(d)
		back, _, err := DecodeResponse(r.Status, r.Body)
		if err != nil || back.Action != d.Action || back.Message != d.Message || string(back.State) != string(d.State) {
			t.Fatalf("round trip of %+v: %+v, %v", d, back, err)
		}
	})
}
