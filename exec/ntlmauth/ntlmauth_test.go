package ntlmauth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/mschap"
)

const (
	chal = "d02e4386bce91226"
	resp = "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df"
)

func TestParse(t *testing.T) {
	wantChal := [8]byte{0xd0, 0x2e, 0x43, 0x86, 0xbc, 0xe9, 0x12, 0x26}
	var wantResp [24]byte
	hex.Decode(wantResp[:], []byte(resp))
	tests := []struct {
		name string
		args []string
		want Request
	}{
		{
			"freeradius-notes snippet",
			[]string{"--request-nt-key", "--username=bob", "--domain=NONE", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{{"request-nt-key", ""}}},
		},
		{
			"separate values",
			[]string{"--username", "bob", "--domain", "CORP", "--challenge", chal, "--nt-response", resp},
			Request{UserName: "bob", Domain: "CORP", Challenge: wantChal, NTResponse: wantResp},
		},
		{
			"uppercase hex",
			[]string{"--username=bob", "--challenge=" + strings.ToUpper(chal), "--nt-response=" + strings.ToUpper(resp)},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp},
		},
		{
			"stock FreeRADIUS mschap flags",
			[]string{"--request-nt-key", "--allow-mschapv2", "--username=CORP\\bob", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: `CORP\bob`, Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{{"request-nt-key", ""}, {"allow-mschapv2", ""}}},
		},
		{
			"samba flags with values",
			[]string{"--helper-protocol=ntlm-server-1", "--request-lm-key", "--username=bob", "--workstation", "WS1", "-d", "0", "--challenge=" + chal, "--nt-response=" + resp, "--require-membership-of", "S-1-5-21"},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{
				{"helper-protocol", "ntlm-server-1"}, {"request-lm-key", ""}, {"workstation", "WS1"}, {"d", "0"}, {"require-membership-of", "S-1-5-21"},
			}},
		},
		{
			"radmfa's own flags come back as ignored",
			[]string{"--config", "/etc/radmfa/radmfa.toml", "--db=/var/lib/radmfa/radmfa.db", "--username=bob", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{{"config", "/etc/radmfa/radmfa.toml"}, {"db", "/var/lib/radmfa/radmfa.db"}}},
		},
		{
			"secret samba values are dropped",
			[]string{"--password=hunter2", "--lm-response", "00112233", "--username=bob", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{{"password", ""}, {"lm-response", ""}}},
		},
		{
			"unknown boolean flag before a flag",
			[]string{"--future-flag", "--username=bob", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp, Ignored: []Flag{{"future-flag", ""}}},
		},
		{
			"user name that looks like a flag",
			[]string{"--username", "-bob", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "-bob", Challenge: wantChal, NTResponse: wantResp},
		},
		{
			"user name with spaces, quotes, equals",
			[]string{`--username=O'Brien, "x" a=b`, "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: `O'Brien, "x" a=b`, Challenge: wantChal, NTResponse: wantResp},
		},
		{
			"domain none in lower case",
			[]string{"--username=bob", "--domain=none", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp},
		},
		{
			"empty domain",
			[]string{"--username=bob", "--domain=", "--challenge=" + chal, "--nt-response=" + resp},
			Request{UserName: "bob", Challenge: wantChal, NTResponse: wantResp},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %x %x %v\nwant %+v %x %x %v", got, got.Challenge, got.NTResponse, got.Ignored, tt.want, tt.want.Challenge, tt.want.NTResponse, tt.want.Ignored)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := map[string]string{"username": "--username=bob", "challenge": "--challenge=" + chal, "nt-response": "--nt-response=" + resp}
	args := func(replace map[string]string, extra ...string) []string {
		var out []string
		for _, k := range []string{"username", "challenge", "nt-response"} {
			v, ok := replace[k]
			if !ok {
				v = good[k]
			}
			if v != "" {
				out = append(out, v)
			}
		}
		return append(out, extra...)
	}
	tests := []struct {
		name     string
		args     []string
		want     []string // every one must be in the error
		wantUser string   // still parsed despite the error
	}{
		{"no arguments", nil, []string{"--username is missing", "--challenge is missing", "--nt-response is missing"}, ""},
		{"missing username", args(map[string]string{"username": ""}), []string{"--username is missing"}, ""},
		{"empty username", args(map[string]string{"username": "--username="}), []string{"--username is empty"}, ""},
		{"missing challenge", args(map[string]string{"challenge": ""}), []string{"--challenge is missing"}, "bob"},
		{"missing nt-response", args(map[string]string{"nt-response": ""}), []string{"--nt-response is missing"}, "bob"},
		{"username without value at the end", []string{"--challenge=" + chal, "--nt-response=" + resp, "--username"}, []string{"--username: missing value", "--username is missing"}, ""},
		{"challenge 00 (no MS-CHAP in the request)", args(map[string]string{"challenge": "--challenge=00"}), []string{"--challenge: 1 bytes, want 8 (16 hex digits)"}, "bob"},
		{"nt-response 00", args(map[string]string{"nt-response": "--nt-response=00"}), []string{"--nt-response: 1 bytes, want 24 (48 hex digits)"}, "bob"},
		{"challenge odd length", args(map[string]string{"challenge": "--challenge=" + chal[:15]}), []string{"--challenge: odd number of hex digits (15)"}, "bob"},
		{"nt-response odd length", args(map[string]string{"nt-response": "--nt-response=" + resp + "0"}), []string{"--nt-response: odd number of hex digits (49)"}, "bob"},
		{"challenge is the 16-byte authenticator challenge", args(map[string]string{"challenge": "--challenge=" + chal + chal}), []string{"--challenge: 16 bytes, want 8"}, "bob"},
		{"nt-response is the whole MS-CHAP2-Response", args(map[string]string{"nt-response": "--nt-response=0100" + strings.Repeat("ab", 48)}), []string{"--nt-response: 50 bytes, want 24"}, "bob"},
		{"challenge not hex", args(map[string]string{"challenge": "--challenge=d02e4386bce9122g"}), []string{"--challenge: not hex"}, "bob"},
		{"nt-response not hex", args(map[string]string{"nt-response": "--nt-response=" + strings.Repeat("zz", 24)}), []string{"--nt-response: not hex"}, "bob"},
		{"nt-response with 0x", args(map[string]string{"nt-response": "--nt-response=0x" + resp[2:]}), []string{"--nt-response: not hex"}, "bob"},
		{"empty challenge", args(map[string]string{"challenge": "--challenge="}), []string{"--challenge: empty value"}, "bob"},
		{"unexpanded xlat", args(map[string]string{"challenge": "--challenge=%{mschap:Challenge}"}), []string{"--challenge: odd number"}, "bob"},
		{"username twice", args(nil, "--username=mallory"), []string{"--username given more than once"}, "bob"},
		{"challenge twice", args(nil, "--challenge", chal), []string{"--challenge given more than once"}, "bob"},
		{"positional argument", args(nil, "stray"), []string{`unexpected argument "stray"`}, "bob"},
		{"double dash", args(nil, "--"), []string{`unexpected "--"`}, "bob"},
		{"long positional argument", args(nil, strings.Repeat("x", 100)), []string{"unexpected argument of 100 bytes"}, "bob"},
		{"oversized username", args(map[string]string{"username": "--username=" + strings.Repeat("u", maxValue+1)}), []string{"--username: value longer than 1012 bytes"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(tt.args)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "ntlmauth: ") {
				t.Errorf("error %q lacks the ntlmauth: prefix", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			if req.UserName != tt.wantUser {
				t.Errorf("UserName = %q, want %q", req.UserName, tt.wantUser)
			}
			if strings.Contains(strings.ToLower(err.Error()), resp[:16]) {
				t.Errorf("error %q contains the NT-Response", err)
			}
		})
	}
}

// TestRequestString checks that printing a request never shows the
// challenge or the NT-Response.
func TestRequestString(t *testing.T) {
	req, err := Parse([]string{"--username=bob", "--challenge=" + chal, "--nt-response=" + resp})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%v %+v %#v %s", req, req, req, req), fmt.Sprintf("%v", &req)} {
		if !strings.Contains(s, `"bob"`) || strings.Contains(s, "82309e") || strings.Contains(s, "130 48") || strings.Contains(s, "d02e") {
			t.Errorf("printed %q", s)
		}
	}
}

func TestWriteSuccess(t *testing.T) {
	key, err := mschap.NTKey([]byte("clientPass"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := WriteSuccess(&out, key)
	// RFC 2759 §9.2 PasswordHashHash.
	if want := "NT_KEY: 41C00C584BD2D91C4017A2A12FA59F3F\n"; out.String() != want || code != ExitSuccess || err != nil {
		t.Fatalf("got %q, %d, %v; want %q, 0, nil", out.String(), code, err, want)
	}
}

func TestWriteFailure(t *testing.T) {
	tests := []struct {
		failure Failure
		want    string
		// rlm_mschap 3.2 matches these (case-insensitively) to choose the error.
		rlmMatch []string
	}{
		{WrongPassword, "Logon failure (0xc000006d)\n", nil},
		{AccountLockedOut, "Account locked out (0xc0000234)\n", []string{"Account locked out", "0xC0000234"}},
		{PasswordExpired, "Password expired (0xc0000224)\n", []string{"Password expired"}},
		{AccountDisabled, "Account disabled (0xc0000072)\n", []string{"Account disabled", "0xC0000072"}},
		{NoLogonServers, "No logon servers (0xc000005e)\n", []string{"No logon servers", "0xC000005E"}},
		{FailureInvalid, "No logon servers (0xc000005e)\n", nil},
		{Failure(99), "No logon servers (0xc000005e)\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.failure.String(), func(t *testing.T) {
			var out bytes.Buffer
			code, err := WriteFailure(&out, tt.failure)
			if out.String() != tt.want || code != ExitFailure || err != nil {
				t.Fatalf("got %q, %d, %v; want %q, %d, nil", out.String(), code, err, tt.want, ExitFailure)
			}
			for _, m := range tt.rlmMatch {
				if !strings.Contains(strings.ToLower(out.String()), strings.ToLower(m)) {
					t.Errorf("output %q does not contain %q", out.String(), m)
				}
			}
			if strings.HasPrefix(out.String(), "NT_KEY") {
				t.Errorf("failure output %q starts like a success", out.String())
			}
		})
	}
}

// TestFailureLinesDistinct checks that no failure line contains another
// failure's marker, so rlm_mschap cannot map one to another's error.
func TestFailureLinesDistinct(t *testing.T) {
	markers := map[Failure][]string{
		AccountLockedOut: {"account locked out", "0xc0000234"},
		PasswordExpired:  {"password expired", "must change password", "0xc0000224"},
		AccountDisabled:  {"account disabled", "0xc0000072"},
		NoLogonServers:   {"no logon servers", "0xc000005e"},
	}
	for f := WrongPassword; f <= NoLogonServers; f++ {
		line := strings.ToLower(f.String())
		for other, ms := range markers {
			for _, m := range ms {
				if other != f && strings.Contains(line, m) {
					t.Errorf("%v contains %q, the marker of %v", f, m, other)
				}
			}
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrors(t *testing.T) {
	if code, err := WriteSuccess(failingWriter{}, mschap.Hash{}); code != ExitFailure || err == nil {
		t.Errorf("WriteSuccess: got %d, %v; want ExitFailure and an error", code, err)
	}
	if code, err := WriteFailure(failingWriter{}, WrongPassword); code != ExitFailure || err == nil {
		t.Errorf("WriteFailure: got %d, %v; want ExitFailure and an error", code, err)
	}
}

func TestFailureString(t *testing.T) {
	if got := Failure(42).String(); got != "Failure(42)" {
		t.Errorf("got %q", got)
	}
	if got := FailureInvalid.String(); got != "Failure(0)" {
		t.Errorf("got %q", got)
	}
}

// FuzzParse checks that no argument list crashes the parser, that a
// request without an error has every required field, and that values stay
// bounded.
func FuzzParse(f *testing.F) {
	f.Add("--request-nt-key", "--username=bob", "--challenge="+chal, "--nt-response="+resp, "--domain=NONE")
	f.Add("--username", "bob", "--challenge", chal, "--nt-response="+resp)
	f.Add("--challenge=00", "--nt-response=00", "--username=", "--", "x")
	f.Add("--config", "/etc/radmfa.toml", "-d", "--username=-", "---=")
	f.Fuzz(func(t *testing.T, a, b, c, d, e string) {
		for _, args := range [][]string{{a, b, c, d, e}, strings.Fields(a + " " + b + " " + c + " " + d + " " + e)} {
			req, err := Parse(args)
			if len(req.UserName) > maxValue || len(req.Domain) > maxValue {
				t.Fatalf("oversized result %d/%d", len(req.UserName), len(req.Domain))
			}
			if len(req.Ignored) > len(args) {
				t.Fatalf("%d ignored flags from %d arguments", len(req.Ignored), len(args))
			}
			if err == nil && req.UserName == "" {
				t.Fatalf("no error for %q but no user name", args)
			}
		}
	})
}
