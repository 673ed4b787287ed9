package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const testSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// radmfa runs the CLI in-process with the database in dir.
func radmfa(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	environ := []string{"RADMFA_DB=" + filepath.Join(dir, "radmfa.db")}
	var out, errb bytes.Buffer
	code = run(context.Background(), args, environ, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("output differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?`)

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"--nope"}, "unknown flag: --nope"},
		{"user add without name", []string{"user", "add"}, "radmfa user add takes 1 argument(s): NAME (got 0)"},
		{"user add two names", []string{"user", "add", "a", "b"}, "takes 1 argument(s)"},
		{"device disable one arg", []string{"device", "disable", "bob"}, "USER DEVICE"},
		{"limit zero", []string{"report", "activity", "--limit", "0"}, "--limit 0: want 1 to 10000"},
		{"limit huge", []string{"report", "activity", "--limit", "99999999"}, "want 1 to 10000"},
		{"limit not a number", []string{"report", "activity", "--limit", "ten"}, `invalid argument "ten"`},
		{"negative cursor", []string{"report", "activity", "--before", "-4"}, "--before -4"},
		{"seven digits", []string{"user", "add", "x", "--digits", "7"}, "--digits = 7: want 6 or 8"},
		{"md5", []string{"user", "add", "x", "--algorithm", "md5"}, `--algorithm = "MD5"`},
		{"bad base32", []string{"user", "add", "x", "--secret", "not!base32"}, "not valid base32"},
		{"short secret", []string{"user", "add", "x", "--secret", "GEZDGNBV"}, "at least 80"},
		{"secret and uri", []string{"user", "add", "x", "--secret", testSecret, "--uri", "otpauth://totp/x?secret=" + testSecret}, "cannot be used together"},
		{"uri and digits", []string{"user", "add", "x", "--uri", "otpauth://totp/x?secret=" + testSecret, "--digits", "8"}, "--digits cannot be used with --uri"},
		{"bad uri", []string{"user", "add", "x", "--uri", "https://example.com"}, "scheme"},
		{"hotp uri without counter", []string{"user", "add", "x", "--uri", "otpauth://hotp/x?secret=" + testSecret}, "needs a counter"},
		{"control char in name", []string{"user", "add", "bob\nx"}, `user name "bob\u000ax"`},
		{"bad device name", []string{"user", "add", "x", "--device", "a/b"}, `device name "a/b"`},
		{"qr extension", []string{"user", "add", "qrx", "--qr", "code.gif"}, "must end in .png or .svg"},
		{"exec with an argument", []string{"exec", "extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Fatalf("stderr %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestHelpEverywhere(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--help"}, {"exec", "--help"}, {"user", "--help"}, {"user", "add", "--help"}, {"user", "list", "--help"},
		{"user", "show", "--help"}, {"user", "enable", "--help"}, {"user", "disable", "--help"}, {"user", "remove", "--help"},
		{"device", "--help"}, {"device", "add", "--help"}, {"device", "list", "--help"}, {"device", "enable", "--help"},
		{"device", "disable", "--help"}, {"device", "remove", "--help"}, {"report", "--help"}, {"report", "activity", "--help"},
		{"check-config", "--help"}, {"version", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", args...)
			if code != 0 || !strings.Contains(out, "Usage:") {
				t.Fatalf("exit %d\n%s%s", code, out, stderr)
			}
		})
	}
	out, _, _ := radmfa(t, dir, "", "--help")
	golden(t, "help.txt", out)
}

func TestUserLifecycle(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		golden string // compare stdout (times masked) with testdata/NAME
		want   string // or: stdout or stderr must contain this
	}{
		{"list without database", "", []string{"user", "list"}, 1, "", "no database at " + filepath.Join(dir, "radmfa.db") + " (radmfa user add creates it)"},
		{"add alice", testSecret + "\n", []string{"user", "add", "Alice", "--secret", "-"}, 0, "user-add-imported.txt", ""},
		{"add alice again", "", []string{"user", "add", "alice"}, 1, "", `user "alice" already exists (add more devices with: radmfa device add alice)`},
		{"add generated", "", []string{"user", "add", "bob", "--device", "phone"}, 0, "", "Scan this QR code"},
		{"add second device", "", []string{"device", "add", "alice", "--digits", "8", "--json"}, 0, "", `"device": "totp2"`},
		{"add named device twice", "", []string{"device", "add", "bob", "--device", "phone"}, 1, "", `user "bob" already has a device "phone"`},
		{"device for nobody", "", []string{"device", "add", "nobody"}, 1, "", `user "nobody" not found`},
		{"disable device", "", []string{"device", "disable", "alice", "totp2"}, 0, "", `Device "totp2" of user "alice" disabled.`},
		{"disable missing device", "", []string{"device", "disable", "alice", "totp9"}, 1, "", `device "totp9" of user "alice" not found`},
		{"disable user", "", []string{"user", "disable", "BOB"}, 0, "", `User "bob" disabled.`},
		{"list", "", []string{"user", "list"}, 0, "user-list.txt", ""},
		{"show", "", []string{"user", "show", "alice"}, 0, "user-show.txt", ""},
		{"show missing", "", []string{"user", "show", "zed"}, 1, "", `user "zed" not found`},
		{"device list", "", []string{"device", "list", "alice", "--json"}, 0, "", `"enabled": false`},
		{"remove device", "", []string{"device", "remove", "alice", "totp2"}, 0, "", "removed"},
		{"enable user", "", []string{"user", "enable", "bob"}, 0, "", `User "bob" enabled.`},
		{"remove user", "", []string{"user", "remove", "bob"}, 0, "", `User "bob" removed.`},
		{"remove again", "", []string{"user", "remove", "bob"}, 1, "", `user "bob" not found`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, st.stdin, st.args...)
			if code != st.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, st.code, out, stderr)
			}
			if st.golden != "" {
				golden(t, st.golden, timeRE.ReplaceAllString(out, "TIME"))
			}
			if st.want != "" && !strings.Contains(out+stderr, st.want) {
				t.Fatalf("output does not contain %q:\n%s%s", st.want, out, stderr)
			}
		})
	}
	// Every change is in the audit log, in the same transaction as the change.
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "radmfa.db")}, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	audit, _ := s.Audit(context.Background(), 100)
	var got []string
	for _, a := range audit {
		got = append(got, a.Action+" "+a.Target)
	}
	want := "user.remove bob, user.enable bob, device.remove alice/totp2, user.disable bob, device.disable alice/totp2, device.add alice/totp2, user.add bob, user.add alice"
	if strings.Join(got, ", ") != want {
		t.Fatalf("audit:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
}

func TestQRFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.png", "b.svg"} {
		path := filepath.Join(dir, name)
		if _, stderr, code := radmfa(t, dir, "", "user", "add", strings.TrimSuffix(name, filepath.Ext(name)), "--qr", path, "--json"); code != 0 {
			t.Fatal(stderr)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 || st.Size() < 200 {
			t.Fatalf("%s: mode %04o size %d", name, st.Mode().Perm(), st.Size())
		}
	}
}

// TestReportActivity checks the table and JSON forms on a fixed event set.
func TestReportActivity(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "radmfa.db")}, sqlite.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	events := []mfa.Event{
		{Time: t0, TxID: "00000000000000a1", User: "alice", Result: mfa.ResultChallenge, Method: mfa.MethodTOTP, Trigger: mfa.TriggerEmpty,
			Message: "challenge: enter the code from the authenticator app", FrontDoor: mfa.FrontDoorExec, Node: "r1", Client: "vpn", CallingStationID: "203.0.113.5", NASIdentifier: "gw1"},
		{Time: t0.Add(9 * time.Second), TxID: "00000000000000a1", User: "alice", Result: mfa.ResultSuccess, Method: mfa.MethodTOTP, Trigger: mfa.TriggerCode,
			Message: "OTP accepted", Device: "totp1", FrontDoor: mfa.FrontDoorExec, Node: "r1", Client: "vpn", CallingStationID: "203.0.113.5", NASIdentifier: "gw1"},
		{Time: t0.Add(time.Minute), TxID: "00000000000000b2", User: `o'brien "x"`, Result: mfa.ResultFailure, Method: mfa.MethodTOTP, Trigger: mfa.TriggerCode,
			Message: "OTP already used", FrontDoor: mfa.FrontDoorExec, Node: "r1", Client: "vpn"},
		{Time: t0.Add(2 * time.Minute), TxID: "00000000000000c3", User: "mallory", Result: mfa.ResultFailure,
			Message: "unknown user", FrontDoor: mfa.FrontDoorExec, Node: "r1", Client: "wifi"},
	}
	err = s.Update(context.Background(), func(tx mfa.Tx) error {
		for _, e := range events {
			if err := tx.AddEvent(context.Background(), e); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, golden string
		args         []string
	}{
		{"table", "report-activity.txt", []string{"report", "activity"}},
		{"json", "report-activity.json", []string{"report", "activity", "--json"}},
		{"page", "report-activity-page.txt", []string{"report", "activity", "--limit", "2", "--before", "4"}},
		{"user", "report-activity-user.txt", []string{"report", "activity", "--user", "ALICE"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != 0 {
				t.Fatal(stderr)
			}
			golden(t, tt.golden, out)
		})
	}
	t.Run("empty", func(t *testing.T) {
		empty := t.TempDir()
		radmfa(t, empty, "", "user", "add", "x", "--json")
		out, _, code := radmfa(t, empty, "", "report", "activity")
		if code != 0 || out != "No events.\n" {
			t.Fatalf("exit %d: %q", code, out)
		}
	})
}

func TestExecCommand(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := radmfa(t, dir, testSecret+"\n", "user", "add", "alice", "--secret", "-"); code != 0 {
		t.Fatal(stderr)
	}
	dev := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: mfa.Secret("12345678901234567890")}
	code, _ := mfa.Code(dev, mfa.Step(dev, time.Now()))
	tests := []struct {
		name    string
		environ []string
		args    []string
		code    int
		stdout  string
	}{
		{"accept", []string{`USER_NAME="alice"`, `USER_PASSWORD="` + code + `"`}, nil, 0, ""},
		{"replay", []string{`USER_NAME="alice"`, `USER_PASSWORD="` + code + `"`}, nil, 1, "Reply-Message := 'This code was already used; wait for the next one'\n"},
		{"malformed State", []string{`USER_NAME="alice"`, `USER_PASSWORD=""`, "STATE=0xq"}, nil, 1, "Reply-Message := 'Authentication failed'\n"},
		{"chap", []string{`USER_NAME="alice"`, "CHAP_PASSWORD=0x01"}, nil, 1, "Reply-Message := 'Authentication failed'\n"},
		{"bad config", []string{`USER_NAME="alice"`, `USER_PASSWORD=""`, "RADMFA_CONFIG=" + filepath.Join(dir, "missing.toml")}, nil, 2, "Reply-Message := '" + mfa.MsgUnavailable + "'\n"},
		{"unknown flag", []string{`USER_NAME="alice"`}, []string{"--bogus"}, 2, ""},
		{"global flag after exec", []string{`USER_NAME="alice"`, `USER_PASSWORD="000000"`}, []string{"--config=" + filepath.Join(dir, "missing.toml")}, 2, "Reply-Message := '" + mfa.MsgUnavailable + "'\n"},
		{"client flags", []string{`USER_NAME="alice"`, `USER_PASSWORD="000000"`}, []string{"--client-name=vpn", "--client-ip", "192.0.2.1"}, 1, "Reply-Message := 'Authentication failed'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			environ := append([]string{"RADMFA_DB=" + filepath.Join(dir, "radmfa.db")}, tt.environ...)
			got := run(context.Background(), append([]string{"exec"}, tt.args...), environ, strings.NewReader(""), &out, &errb)
			if got != tt.code || out.String() != tt.stdout {
				t.Fatalf("exit %d stdout %q, want %d %q\nstderr: %s", got, out.String(), tt.code, tt.stdout, errb.String())
			}
		})
	}
	evOut, _, _ := radmfa(t, dir, "", "report", "activity", "--json")
	var evs []eventJSON
	if err := json.Unmarshal([]byte(evOut), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5 (config and usage errors cannot write one)", len(evs))
	}
	if evs[0].Client != "vpn" {
		t.Fatalf("client %q, want vpn (--client-name wins over --client-ip)", evs[0].Client)
	}
	evs = evs[1:]
	if evs[0].Message != "malformed request: CHAP or MS-CHAP request: radmfa exec needs PAP (MS-CHAP goes through radmfa ntlm-auth)" ||
		evs[1].Message != "malformed request: STATE: not valid hex" {
		t.Fatalf("messages %q / %q", evs[0].Message, evs[1].Message)
	}
}

func TestExecStoreProblems(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"missing key file", func(t *testing.T, dir string) {
			radmfa(t, dir, "", "user", "add", "alice", "--json")
			os.Remove(filepath.Join(dir, "radmfa.key"))
		}},
		{"corrupt database", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "radmfa.db"), bytes.Repeat([]byte("not sqlite"), 500), 0o600)
		}},
		{"database is a directory", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "radmfa.db"), 0o700)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			var out, errb bytes.Buffer
			environ := []string{"RADMFA_DB=" + filepath.Join(dir, "radmfa.db"), `USER_NAME="alice"`, `USER_PASSWORD="123456"`}
			code := run(context.Background(), []string{"exec"}, environ, strings.NewReader(""), &out, &errb)
			if code != 2 || out.String() != "Reply-Message := '"+mfa.MsgUnavailable+"'\n" {
				t.Fatalf("exit %d stdout %q", code, out.String())
			}
			if !strings.Contains(errb.String(), "could not decide") {
				t.Fatalf("stderr %q: want a log line saying why", errb.String())
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "radmfa.toml")
	os.WriteFile(cfgPath, []byte("data_dir = \"data\"\nnode = \"r1\"\n[users]\nstrip_realm = true\n"), 0o600)
	out, stderr, code := radmfa(t, dir, "", "--config", cfgPath, "check-config")
	if code != 0 {
		t.Fatal(stderr)
	}
	golden(t, "check-config-nodb.txt", strings.ReplaceAll(out, dir, "$DIR"))

	os.WriteFile(cfgPath, []byte("[otp]\nwindw = 1\n"), 0o600)
	_, stderr, code = radmfa(t, dir, "", "--config", cfgPath, "check-config")
	if code != 1 || !strings.Contains(stderr, cfgPath+`:2:1: unknown key "otp.windw"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := radmfa(t, t.TempDir(), "", "version")
	if code != 0 || !strings.HasPrefix(out, "radmfa ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}
