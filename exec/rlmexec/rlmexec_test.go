package rlmexec

import (
	"bytes"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestParseEnv(t *testing.T) {
	env := []string{
		"USER_NAME=\"bob\"",
		"USER_PASSWORD=\"123456\"",
		"STATE=0x0a1b2c",
		"NAS_IP_ADDRESS=10.0.0.1",
		"NAS_IDENTIFIER=\"vpn-gw\"",
		"CALLED_STATION_ID=\"00-11-22\"",
		"CALLING_STATION_ID=\"203.0.113.7\"",
		"PACKET_SRC_IP_ADDRESS=127.0.0.1",
		"PACKET_SRC_PORT=4000",
		"SERVICE_TYPE=Framed-User",
		"NAS_PORT=7",
	}
	req, err := ParseEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	want := mfa.Request{
		FrontDoor: mfa.FrontDoorExec, UserName: "bob", Passcode: mfa.Secret("123456"), State: []byte{0x0a, 0x1b, 0x2c},
		NAS: mfa.NAS{ClientIP: "127.0.0.1", ClientPort: 4000, IPAddress: "10.0.0.1", Identifier: "vpn-gw", CalledStationID: "00-11-22", CallingStationID: "203.0.113.7"},
	}
	if req.UserName != want.UserName || req.Passcode.Reveal() != "123456" || !bytes.Equal(req.State, want.State) || req.NAS != want.NAS || req.FrontDoor != want.FrontDoor {
		t.Fatalf("got %+v\nwant %+v", req, want)
	}
}

func TestParseEnvStrings(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
		err  string
	}{
		{"plain", `"bob"`, "bob", ""},
		{"empty", `""`, "", ""},
		{"escaped quote", `"bob\", Auth-Type := Accept"`, `bob", Auth-Type := Accept`, ""},
		{"backslash", `"CORP\\bob"`, `CORP\bob`, ""},
		{"newline", `"a\nb\r\tc"`, "a\nb\r\tc", ""},
		{"octal", `"a\001b\377"`, "a\x01b\xff", ""},
		{"utf8 raw", `"josé"`, "josé", ""},
		{"xlat text", `"%{User-Password}"`, "%{User-Password}", ""},
		{"unquoted", `Framed-User`, "Framed-User", ""},
		{"unterminated", `"bob`, "", "unterminated"},
		{"lone quote", `"`, "", "unterminated"},
		{"inner quote", `"a"b"`, "", "unescaped quote"},
		{"escaped closing quote", `"ab\"`, "", "lone backslash"},
		{"lone backslash", `"ab\\\"`, "", "lone backslash"},
		{"bad escape", `"a\qb"`, "", `unknown escape \q`},
		{"short octal", `"a\01"`, "", "bad"},
		{"non-octal digit", `"a\089"`, "", "bad"},
		{"too long", `"` + strings.Repeat("a", 2000) + `"`, "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stringValue(tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		err  string
		user string
	}{
		{"chap", []string{`USER_NAME="bob"`, "CHAP_PASSWORD=0x0102"}, "CHAP or MS-CHAP", "bob"},
		{"mschapv2", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "MS_CHAP2_RESPONSE=0x0102"}, "CHAP or MS-CHAP", "bob"},
		{"no user", []string{`USER_PASSWORD="1"`}, "no User-Name", ""},
		{"state not hex", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "STATE=0xzz"}, "STATE: not valid hex", "bob"},
		{"state odd hex", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "STATE=0xabc"}, "STATE: not valid hex", "bob"},
		{"state without 0x", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "STATE=abcd"}, "STATE: want 0x", "bob"},
		{"bad user quoting keeps raw name", []string{`USER_NAME="bob`, `USER_PASSWORD=""`}, "USER_NAME: unterminated", `"bob`},
		{"bad password quoting", []string{`USER_NAME="bob"`, `USER_PASSWORD="12\q"`}, "USER_PASSWORD: unknown escape", "bob"},
		{"bad port", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "PACKET_SRC_PORT=99999"}, "PACKET_SRC_PORT", "bob"},
		{"bad client ip", []string{`USER_NAME="bob"`, `USER_PASSWORD=""`, "PACKET_SRC_IP_ADDRESS=\"x\""}, "not an IP", "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseEnv(tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if req.UserName != tt.user {
				t.Fatalf("user %q, want %q (best effort)", req.UserName, tt.user)
			}
		})
	}
}

func TestParseEnvMissingPasswordIsEmpty(t *testing.T) {
	req, err := ParseEnv([]string{`USER_NAME="bob"`})
	if err != nil || req.UserName != "bob" || len(req.Passcode) != 0 {
		t.Fatalf("got %+v, %v; want bob with an empty passcode", req, err)
	}
}

func TestParseEnvPasswordNeverInErrors(t *testing.T) {
	_, err := ParseEnv([]string{`USER_NAME="bob"`, `USER_PASSWORD="s3cr3t\q"`})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v", err)
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		d    mfa.Decision
		code int
		out  string
	}{
		{"accept", mfa.Decision{Action: mfa.ActionAccept}, 0, ""},
		{"reject", mfa.Decision{Action: mfa.ActionReject, Message: "Authentication failed"}, 1, "Reply-Message := 'Authentication failed'\n"},
		{"challenge", mfa.Decision{Action: mfa.ActionChallenge, Message: "Enter the code", State: []byte{0xde, 0xad}}, 4,
			"Reply-Message := 'Enter the code'\nState := 0xdead\n"},
		{"fail", mfa.Decision{Message: "unavailable"}, 2, "Reply-Message := 'unavailable'\n"},
		{"hostile message", mfa.Decision{Action: mfa.ActionReject, Message: "it's \\ %{User-Password}\nAuth-Type := Accept"}, 1,
			"Reply-Message := 'it\\'s \\\\ %{User-Password}Auth-Type := Accept'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			code, err := Write(&b, tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || b.String() != tt.out {
				t.Fatalf("got %d %q, want %d %q", code, b.String(), tt.code, tt.out)
			}
		})
	}
	if code, err := Write(&bytes.Buffer{}, mfa.Decision{Action: mfa.ActionChallenge}); err == nil || code != ExitFail {
		t.Fatalf("challenge without State: %d, %v", code, err)
	}
}

// FuzzParseEnv checks that no environment crashes the parser and that
// whatever it returns stays within RADIUS-sized bounds.
func FuzzParseEnv(f *testing.F) {
	f.Add(`"bob"`, `"123456"`, "0x0a1b")
	f.Add(`"b\"o\\b\n"`, `""`, `"abc"`)
	f.Add(`"\777"`, `"\q"`, "0x")
	f.Fuzz(func(t *testing.T, user, pass, state string) {
		req, _ := ParseEnv([]string{"USER_NAME=" + user, "USER_PASSWORD=" + pass, "STATE=" + state})
		if len(req.UserName) > maxValue || len(req.Passcode) > maxValue || len(req.State) > maxValue {
			t.Fatalf("oversized result %d/%d/%d", len(req.UserName), len(req.Passcode), len(req.State))
		}
	})
}

// FuzzQuote checks that any message becomes exactly one single-quoted
// value: no line break, no unescaped quote, bounded size.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"plain", "it's", `a\'b`, "x\ny", "%{User-Password}", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if len(q) > maxMessage+2+maxMessage/1 || !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") || len(q) < 2 {
			t.Fatalf("Quote(%q) = %q", s, q)
		}
		body := q[1 : len(q)-1]
		for i := 0; i < len(body); i++ {
			switch c := body[i]; {
			case c < 0x20 || c == 0x7f:
				t.Fatalf("Quote(%q) has control byte %#x", s, c)
			case c == '\\':
				i++
				if i == len(body) || (body[i] != '\\' && body[i] != '\'') {
					t.Fatalf("Quote(%q) = %q: stray backslash", s, q)
				}
			case c == '\'':
				t.Fatalf("Quote(%q) = %q: unescaped quote", s, q)
			}
		}
	})
}
