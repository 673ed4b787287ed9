package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// execAs runs radmfa exec for user with password and returns the exit code
// and stdout.
func execAs(t *testing.T, dir, user, password string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	environ := []string{"RADMFA_DB=" + filepath.Join(dir, "radmfa.db"), `USER_NAME="` + user + `"`, `USER_PASSWORD="` + password + `"`}
	code := run(context.Background(), []string{"exec"}, environ, strings.NewReader(""), &out, &errb)
	return code, out.String()
}

// TestHOTPAndResync enrols an HOTP token, lets it run ahead of the server
// past the look-ahead window, and resynchronises it with two codes.
func TestHOTPAndResync(t *testing.T) {
	dir := t.TempDir()
	if out, stderr, code := radmfa(t, dir, "", "user", "add", "hal", "--hotp", "--secret", testSecret, "--counter", "0"); code != 0 ||
		!strings.Contains(out, "next counter 0") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	dev := mfa.Device{Kind: mfa.DeviceHOTP, Algorithm: "SHA1", Digits: 6, Secret: mfa.Secret("12345678901234567890")}
	hotp := func(c int64) string {
		code, err := mfa.Code(dev, c)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	steps := []struct {
		name     string
		password string
		code     int
	}{
		{"counter 0", hotp(0), 0},
		{"counter 0 again", hotp(0), 1},
		{"counter 3 within look-ahead", hotp(3), 0},
		{"counter 2 is behind", hotp(2), 1},
		{"far ahead is not accepted", hotp(200), 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if code, out := execAs(t, dir, "hal", st.password); code != st.code {
				t.Fatalf("exit %d, want %d: %s", code, st.code, out)
			}
		})
	}
	t.Run("resync", func(t *testing.T) {
		if _, stderr, code := radmfa(t, dir, "", "user", "resync", "hal", hotp(201), hotp(203)); code == 0 {
			t.Fatalf("codes that are not consecutive resynchronised: %s", stderr)
		}
		out, stderr, code := radmfa(t, dir, "", "user", "resync", "hal", hotp(201), hotp(202))
		if code != 0 || !strings.Contains(out, "resynchronised") {
			t.Fatalf("exit %d\n%s%s", code, out, stderr)
		}
		if code, out := execAs(t, dir, "hal", hotp(202)); code != 1 {
			t.Fatalf("the resync code was accepted again: %d %s", code, out)
		}
		if code, out := execAs(t, dir, "hal", hotp(203)); code != 0 {
			t.Fatalf("next code after resync: exit %d %s", code, out)
		}
		out, _, _ = radmfa(t, dir, "", "user", "show", "hal")
		if !strings.Contains(out, "next counter 204") {
			t.Fatalf("show:\n%s", out)
		}
	})
}

// TestBypass covers the help desk's bypass window and one-time code.
func TestBypass(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := radmfa(t, dir, "", "user", "add", "dora", "--json"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _ := execAs(t, dir, "dora", "000000"); code != 1 {
		t.Fatalf("wrong code before bypass: exit %d", code)
	}
	var oneTime string
	steps := []struct {
		name string
		args []string
		code int
		want string
		then func(t *testing.T)
	}{
		{"two modes", []string{"user", "bypass", "dora", "--for", "1h", "--end"}, 2, "choose one of", nil},
		{"too long", []string{"user", "bypass", "dora", "--for", "30d"}, 2, "up to 7d", nil},
		{"unknown user", []string{"user", "bypass", "zed", "--for", "1h"}, 1, `user "zed" not found`, nil},
		{"window", []string{"user", "bypass", "dora", "--for", "1h"}, 0, "without a second factor until", func(t *testing.T) {
			if code, out := execAs(t, dir, "dora", "anything"); code != 0 {
				t.Fatalf("bypass window: exit %d %s", code, out)
			}
			out, _, _ := radmfa(t, dir, "", "user", "show", "dora")
			if !strings.Contains(out, "Bypass:  no second factor until") {
				t.Fatalf("show:\n%s", out)
			}
		}},
		{"end", []string{"user", "bypass", "dora", "--end"}, 0, "ended", func(t *testing.T) {
			if code, _ := execAs(t, dir, "dora", "anything"); code != 1 {
				t.Fatalf("after --end: exit %d", code)
			}
		}},
		{"code", []string{"user", "bypass", "dora", "--code", "--valid", "1h"}, 0, "It works once", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", st.args...)
			if code != st.code || !strings.Contains(out+stderr, st.want) {
				t.Fatalf("exit %d, want %d with %q\n%s%s", code, st.code, st.want, out, stderr)
			}
			if f := strings.Fields(out); st.name == "code" && len(f) > 5 {
				oneTime = strings.TrimSpace(strings.SplitN(strings.SplitN(out, ": ", 2)[1], "\n", 2)[0])
			}
			if st.then != nil {
				st.then(t)
			}
		})
	}
	if len(oneTime) != 8 {
		t.Fatalf("one-time code %q", oneTime)
	}
	if code, out := execAs(t, dir, "dora", oneTime); code != 0 {
		t.Fatalf("one-time code: exit %d %s", code, out)
	}
	if code, _ := execAs(t, dir, "dora", oneTime); code != 1 {
		t.Fatalf("one-time code worked twice")
	}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "radmfa.db")}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Events(context.Background(), sqlite.EventQuery{User: "dora", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var bypasses int
	for _, e := range evs {
		if e.Result == mfa.ResultSuccess && e.Method == mfa.MethodBypass {
			bypasses++
		}
	}
	if bypasses != 2 {
		t.Fatalf("%d successful bypass events, want 2 (window and code)", bypasses)
	}
	audit, _ := s.Audit(context.Background(), 10)
	if len(audit) < 3 || audit[0].Action != "user.bypass" || strings.Contains(audit[0].Details, oneTime) {
		t.Fatalf("audit %+v: want user.bypass entries without the code", audit)
	}
}

// TestDeliveryDevices adds SMS and e-mail devices and refuses bad addresses.
func TestDeliveryDevices(t *testing.T) {
	dir := t.TempDir()
	radmfa(t, dir, "", "user", "add", "eve", "--json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"sms", []string{"device", "add", "eve", "--sms", "--to", "+4915112345678"}, 0, "SMS codes go to +4915112345678"},
		{"email", []string{"device", "add", "eve", "--email", "--to", "eve@example.com"}, 0, "e-mail codes go to eve@example.com"},
		{"sms without to", []string{"device", "add", "eve", "--sms"}, 2, "--to"},
		{"email not an address", []string{"device", "add", "eve", "--email", "--to", "eve"}, 1, `email address "eve": want a bare address`},
		{"sms letters", []string{"device", "add", "eve", "--sms", "--to", "call me"}, 1, "want a phone number"},
		{"sms and email", []string{"device", "add", "eve", "--sms", "--email", "--to", "x"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != tt.code || !strings.Contains(out+stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s%s", code, tt.code, tt.want, out, stderr)
			}
		})
	}
	out, _, _ := radmfa(t, dir, "", "device", "list", "eve")
	for _, want := range []string{"to +4915112345678", "to eve@example.com"} {
		if !strings.Contains(out, want) {
			t.Fatalf("device list lacks %q:\n%s", want, out)
		}
	}
}

func TestExecFlagsApply(t *testing.T) {
	tests := []struct {
		name    string
		f       execFlags
		wantErr string
		auth    int
	}{
		{"all", execFlags{clientIP: "192.0.2.1", clientPort: 1645, authenticator: "0x000102030405060708090a0b0c0d0e0f"}, "", 16},
		{"none", execFlags{}, "", 0},
		{"no 0x", execFlags{authenticator: "000102030405060708090a0b0c0d0e0f"}, "--authenticator", 0},
		{"odd hex", execFlags{authenticator: "0x0001020"}, "--authenticator", 0},
		{"short", execFlags{authenticator: "0x0001"}, "--authenticator", 0},
		{"not hex", execFlags{authenticator: "0xzz0102030405060708090a0b0c0d0e0f"}, "--authenticator", 0},
		{"port too big", execFlags{clientPort: 70000}, "--client-port 70000", 0},
		{"negative port", execFlags{clientPort: -1}, "--client-port -1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req mfa.Request
			err := tt.f.apply(&req)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("apply: %v, want %q", err, tt.wantErr)
			}
			if len(req.Authenticator) != tt.auth {
				t.Fatalf("authenticator %x", req.Authenticator)
			}
		})
	}
}
