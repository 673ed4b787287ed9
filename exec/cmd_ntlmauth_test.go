package main

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// ntlmArgs returns the ntlm_auth arguments rlm_mschap passes for user and
// password, as the shipped snippet words them.
func ntlmArgs(t *testing.T, user, password string) []string {
	t.Helper()
	auth, peer := make([]byte, mschap.ChallengeLen), make([]byte, mschap.ChallengeLen)
	rand.Read(auth)
	rand.Read(peer)
	c, err := mschap.ChallengeHash(peer, auth, user)
	if err != nil {
		t.Fatal(err)
	}
	r, err := mschap.GenerateNTResponse(auth, peer, user, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return []string{"ntlm-auth", "--client-name=vpn", "--client-ip=192.0.2.1", "--request-nt-key", "--username=" + user,
		"--domain=NONE", "--challenge=" + hex.EncodeToString(c[:]), "--nt-response=" + hex.EncodeToString(r[:])}
}

// currentCode returns testSecret's TOTP code now.
func currentCode(t *testing.T) string {
	t.Helper()
	key, err := base32.StdEncoding.DecodeString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	d := mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: key}
	c, err := mfa.Code(d, mfa.Step(d, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNTLMAuth(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := radmfa(t, dir, "", "user", "add", "alice", "--secret", testSecret); code != 0 {
		t.Fatalf("user add: %s", stderr)
	}
	otp := currentCode(t)
	key, err := mschap.NTKey([]byte(otp))
	if err != nil {
		t.Fatal(err)
	}
	const logonFailure = "Logon failure (0xc000006d)\n"
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"totp code", ntlmArgs(t, "alice", otp), 0, "NT_KEY: " + key.Hex() + "\n"},
		{"replayed code", ntlmArgs(t, "alice", otp), 1, logonFailure},
		{"p trigger", ntlmArgs(t, "alice", "p"), 1, logonFailure},
		{"forbidden 1-character passcode", ntlmArgs(t, "alice", "x"), 1, logonFailure},
		{"unknown user", ntlmArgs(t, "mallory", otp), 1, logonFailure},
		{"missing challenge", []string{"ntlm-auth", "--username=alice", "--nt-response=" + strings.Repeat("00", 24)}, 1, logonFailure},
		{"no MS-CHAP attributes (the snippet's 00 defaults)", []string{"ntlm-auth", "--username=alice", "--challenge=00", "--nt-response=00"}, 1, logonFailure},
		{"odd hex", []string{"ntlm-auth", "--username=alice", "--challenge=0", "--nt-response=00"}, 1, logonFailure},
		{"no arguments", []string{"ntlm-auth"}, 1, logonFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := radmfa(t, dir, "", tt.args...)
			if code != tt.code || out != tt.out {
				t.Fatalf("exit %d, stdout %q; want %d, %q\nstderr: %s", code, out, tt.code, tt.out, stderr)
			}
		})
	}
	out, _, _ := radmfa(t, dir, "", "report", "activity", "--user", "alice", "--limit", "100", "--json")
	for _, want := range []string{`"front_door": "ntlm-auth"`, `"client": "vpn"`, "OTP accepted", "OTP already used", "push trigger over MS-CHAPv2", "matches no valid code", "malformed ntlm_auth request: ntlmauth: --challenge is missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("activity lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, otp) {
		t.Error("the code is in the activity report")
	}
}

func TestNTLMAuthLocked(t *testing.T) {
	dir := t.TempDir()
	radmfa(t, dir, "", "user", "add", "bob", "--secret", testSecret)
	for range 5 {
		radmfa(t, dir, "", ntlmArgs(t, "bob", "x")...)
	}
	out, _, code := radmfa(t, dir, "", ntlmArgs(t, "bob", currentCode(t))...)
	if code != 1 || out != "Account locked out (0xc0000234)\n" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

// TestNTLMAuthFlags: radmfa's own flags may come anywhere, also before the
// subcommand (through the command tree), and unusable config is "No logon
// servers" (could not decide), never a success.
func TestNTLMAuthFlags(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "other.db")
	radmfa(t, dir, "", "--db", db, "user", "add", "carol", "--secret", testSecret)
	otp := currentCode(t)
	args := ntlmArgs(t, "carol", otp)
	out, stderr, code := radmfa(t, dir, "", append([]string{"--db", db}, args...)...)
	if code != 0 || !strings.HasPrefix(out, "NT_KEY: ") {
		t.Fatalf("--db before ntlm-auth: exit %d, %q %s", code, out, stderr)
	}
	args = ntlmArgs(t, "carol", otp)
	out, _, code = radmfa(t, dir, "", append(args, "--db", db)...)
	if code != 1 || out != "Logon failure (0xc000006d)\n" {
		t.Fatalf("--db after: exit %d, %q (want the replay refused in the same database)", code, out)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("nonsense = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = radmfa(t, dir, "", append(ntlmArgs(t, "carol", otp), "--config", bad)...)
	if code != 1 || out != "No logon servers (0xc000005e)\n" || !strings.Contains(stderr, "nonsense") {
		t.Fatalf("bad config: exit %d, %q, stderr %q", code, out, stderr)
	}
}

func TestNTLMAuthHelp(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "freeradius", "mods-available", "radmfa_mschap"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ntlm_auth = ") {
			line = strings.TrimSpace(l)
		}
	}
	for _, args := range [][]string{{"ntlm-auth", "--help"}, {"ntlm-auth", "--username=x", "-h"}, {"help", "ntlm-auth"}} {
		out, stderr, code := radmfa(t, dir, "", args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "NT_KEY") {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, stderr)
		}
		if line == "" || !strings.Contains(out, line) {
			t.Fatalf("%q: the example is not the shipped snippet's %q", args, line)
		}
	}
}

// TestReadmeMSCHAPSnippets: the README's MS-CHAPv2 section shows the
// shipped snippets verbatim (the e2e tests run these files).
func TestReadmeMSCHAPSnippets(t *testing.T) {
	r := readme(t)
	for _, f := range []string{"mods-available/radmfa_mschap", "sites-available/radmfa_mschap", "sites-available/radmfa_mschap_rest"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "freeradius", f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r, "```\n"+string(b)+"```") {
			t.Errorf("README.md does not show testdata/freeradius/%s verbatim", f)
		}
	}
}
