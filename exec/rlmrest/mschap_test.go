package rlmrest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// mschapBody is an MS-CHAPv2 request as rlm_rest sends it: userJSON is
// User-Name's JSON string (with rlm_rest's escapes), challengeName the
// name the client hashed.
type mschapBody struct {
	auth, peer, ntResponse []byte
	body                   string
}

func newMSCHAPBody(t *testing.T, userJSON, challengeName, password, extra string) mschapBody {
	t.Helper()
	m := mschapBody{auth: make([]byte, 16), peer: make([]byte, 16)}
	rand.Read(m.auth)
	rand.Read(m.peer)
	r, err := mschap.GenerateNTResponse(m.auth, m.peer, challengeName, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	m.ntResponse = r[:]
	resp := append(append(append([]byte{7, 0}, m.peer...), make([]byte, 8)...), m.ntResponse...)
	m.body = `{"User-Name":{"type":"string","value":[` + userJSON + `]},` +
		`"MS-CHAP-Challenge":{"type":"octets","value":["0x` + hex.EncodeToString(m.auth) + `"]},` +
		`"MS-CHAP2-Response":{"type":"octets","value":["0x` + hex.EncodeToString(resp) + `"]}` + extra + `}`
	return m
}

func TestParseRequestMSCHAPv2(t *testing.T) {
	tests := []struct {
		name          string
		userJSON      string
		challengeName string // what the client hashed
		extra         string
		wantUser      string
	}{
		{"plain", `"bob"`, "bob", "", "bob"},
		{"nt domain stripped from the hash, not the user name", `"CORP\\bob"`, "bob", "", `CORP\bob`},
		{"utf-8 name", `"b\u00C3\u00BCb"`, "büb", "", "büb"},
		{"latin-1 byte: the hash covers the byte", `"b\u00FCb"`, "b\xfcb", "", "b\u00fcb"},
		{"MS-CHAP-User-Name wins", `"outer"`, "inner", `,"MS-CHAP-User-Name":{"type":"string","value":["inner"]}`, "outer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMSCHAPBody(t, tt.userJSON, tt.challengeName, "123456", tt.extra)
			req, _, err := ParseRequest([]byte(m.body), nil)
			if err != nil {
				t.Fatal(err)
			}
			if req.UserName != tt.wantUser || req.MSCHAP == nil || len(req.Passcode) != 0 {
				t.Fatalf("got user %q, MSCHAP %v", req.UserName, req.MSCHAP)
			}
			want, _ := mschap.ChallengeHash(m.peer, m.auth, tt.challengeName)
			if req.MSCHAP.ChallengeHash != want || !bytes.Equal(req.MSCHAP.NTResponse[:], m.ntResponse) {
				t.Fatal("challenge hash or NT-Response differ from what the client computed")
			}
			if i, ok, err := mschap.Match(req.MSCHAP.ChallengeHash[:], req.MSCHAP.NTResponse[:], [][]byte{[]byte("123456")}); i != 0 || !ok || err != nil {
				t.Fatalf("the password does not match: %d %v %v", i, ok, err)
			}
		})
	}
}

func TestParseRequestMSCHAPv2Errors(t *testing.T) {
	good := newMSCHAPBody(t, `"bob"`, "bob", "123456", "")
	resp := "0x0700" + strings.Repeat("ab", 48)
	tests := []struct{ name, body, want string }{
		{"no challenge", strings.Replace(good.body, `"MS-CHAP-Challenge"`, `"X"`, 1), "MS-CHAP2-Response: no MS-CHAP-Challenge in the request"},
		{"short challenge", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP-Challenge":{"type":"octets","value":["0x0011"]},"MS-CHAP2-Response":{"type":"octets","value":["` + resp + `"]}}`,
			"MS-CHAP-Challenge: 2 bytes, want 16"},
		{"short response", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP-Challenge":{"type":"octets","value":["0x` + strings.Repeat("00", 16) + `"]},"MS-CHAP2-Response":{"type":"octets","value":["0x0700"]}}`,
			"MS-CHAP2-Response: 2 bytes, want 50"},
		{"odd hex", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP2-Response":{"type":"octets","value":["0x070"]}}`, "MS-CHAP2-Response: not valid hex"},
		{"no 0x", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP2-Response":{"type":"octets","value":["0700"]}}`, "MS-CHAP2-Response: want 0x"},
		{"empty value list", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP2-Response":{"type":"octets","value":[]}}`, "MS-CHAP2-Response: no value"},
		{"number", `{"User-Name":{"type":"string","value":["bob"]},"MS-CHAP2-Response":{"type":"octets","value":[5]}}`, "MS-CHAP2-Response: want 0x"},
		{"with User-Password", newMSCHAPBody(t, `"bob"`, "bob", "1", `,"User-Password":{"type":"string","value":["p"]}`).body, "both User-Password and MS-CHAP2-Response"},
		{"no user name", strings.Replace(good.body, `"User-Name"`, `"X-Name"`, 1), "no User-Name"},
		{"user name not a string", strings.Replace(good.body, `["bob"]`, `[5]`, 1), "MS-CHAP2-Response: User-Name: not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _, err := ParseRequest([]byte(tt.body), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if req.MSCHAP != nil && !strings.Contains(tt.name, "User-Password") {
				t.Fatal("a malformed MS-CHAPv2 request has a response")
			}
			if strings.Contains(err.Error(), "ab"+"ab"+"ab") {
				t.Fatal("the response leaked into the error")
			}
		})
	}
}

func TestRespondMSCHAPv2(t *testing.T) {
	h, _ := mschap.NTPasswordHash([]byte("123456"))
	d := mfa.Decision{Action: mfa.ActionAccept, TxID: "t", MSCHAP: &mfa.MSCHAPResult{NTHash: h}}
	r := Respond(d)
	want := `{"control:MS-CHAP-Use-NTLM-Auth":{"op":":=","value":"No","do_xlat":false},"control:NT-Password":{"op":":=","value":"` + h.Octets() + `","do_xlat":false}}`
	if r.Status != StatusAccept || string(r.Body) != want {
		t.Fatalf("got %d %s\nwant %s", r.Status, r.Body, want)
	}
	back, _, err := DecodeResponse(r.Status, r.Body)
	if err != nil || back.Action != mfa.ActionAccept || back.MSCHAP == nil || back.MSCHAP.NTHash != h {
		t.Fatalf("DecodeResponse: %+v %v", back, err)
	}
	if _, _, err := DecodeResponse(200, []byte(`{"control:NT-Password":{"value":"0x00"}}`)); err == nil {
		t.Fatal("a short NT-Password decoded")
	}
}

func TestRespondMSCHAPv2Reject(t *testing.T) {
	req := mfa.Request{MSCHAP: &mfa.MSCHAPv2{Ident: 0x81}}
	tests := []struct {
		name, message, want string
	}{
		{"wrong code", mfa.MsgFailed, `^\\201E=691 R=0 C=[0-9A-F]{32} V=3 M=Authentication failed$`},
		{"no message", "", `^\\201E=691 R=0 C=[0-9A-F]{32} V=3 M=Authentication failed$`},
		{"locked", mfa.MsgLocked, `^\\201E=647 R=0 C=[0-9A-F]{32} V=3 M=Your account is locked`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := RespondTo(req, mfa.Decision{Action: mfa.ActionReject, Message: tt.message})
			var m map[string]value
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatal(err)
			}
			if got := m["reply:MS-CHAP-Error"]; r.Status != StatusReject || got.DoXlat || !regexp.MustCompile(tt.want).MatchString(got.Value) {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
		})
	}
	a := RespondTo(req, mfa.Decision{Action: mfa.ActionReject})
	b := RespondTo(req, mfa.Decision{Action: mfa.ActionReject})
	if string(a.Body) == string(b.Body) {
		t.Fatal("two rejects carry the same MS-CHAP-Error challenge")
	}
	if r := RespondTo(mfa.Request{}, mfa.Decision{Action: mfa.ActionReject}); strings.Contains(string(r.Body), "MS-CHAP-Error") {
		t.Fatalf("a PAP reject carries MS-CHAP-Error: %s", r.Body)
	}
}
