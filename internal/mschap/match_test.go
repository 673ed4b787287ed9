package mschap_test

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/mschap"
)

// exchange computes what a client sends for password.
func exchange(t testing.TB, user, password string) (challengeHash, ntResponse []byte) {
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
	return c[:], r[:]
}

func secrets(ss ...string) []mfa.Secret {
	out := make([]mfa.Secret, len(ss))
	for i, s := range ss {
		out[i] = mfa.Secret(s)
	}
	return out
}

func TestMatch(t *testing.T) {
	triggers := []string{"p", "P", "s", "S", "g", "G", "e", "E", " "}
	tests := []struct {
		name       string
		typed      string
		candidates []string
		wantIndex  int
		wantOK     bool
	}{
		{"otp code", "123456", append([]string{"654321", "123456", "000000"}, triggers...), 1, true},
		{"first candidate", "287082", []string{"287082", "359152"}, 0, true},
		{"last candidate", "e", append([]string{"111111"}, triggers...), 7, true},
		{"space trigger", " ", triggers, 8, true},
		{"trigger case matters", "P", triggers, 1, true},
		{"forbidden one character", "x", append([]string{"123456"}, triggers...), -1, false},
		{"empty password", "", append([]string{"123456"}, triggers...), -1, false},
		{"empty candidate matches empty password", "", []string{"1", ""}, 1, true},
		{"wrong code", "123457", []string{"123456", "12345678"}, -1, false},
		{"duplicates: first wins", "424242", []string{"000001", "424242", "424242"}, 1, true},
		{"no candidates", "123456", nil, -1, false},
		{"unicode", "pässwörd😀", []string{"passwort", "pässwörd😀"}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, r := exchange(t, "bob", tt.typed)
			i, ok, err := mschap.Match(c, r, secrets(tt.candidates...))
			if err != nil || i != tt.wantIndex || ok != tt.wantOK {
				t.Fatalf("got %d, %v, %v; want %d, %v, nil", i, ok, err, tt.wantIndex, tt.wantOK)
			}
			// Plain byte slices work as well as mfa.Secret.
			var raw [][]byte
			for _, s := range tt.candidates {
				raw = append(raw, []byte(s))
			}
			if j, ok2, err := mschap.Match(c, r, raw); j != i || ok2 != ok || err != nil {
				t.Fatalf("[][]byte: got %d, %v, %v; want %d, %v", j, ok2, err, i, ok)
			}
		})
	}
}

// TestMatchUserName checks that the challenge hash binds the user name: a
// response computed for another name does not match.
func TestMatchUserName(t *testing.T) {
	c, _ := exchange(t, "alice", "123456")
	_, r := exchange(t, "mallory", "123456")
	if i, ok, err := mschap.Match(c, r, secrets("123456")); ok || err != nil {
		t.Fatalf("got %d, %v, %v; want no match", i, ok, err)
	}
}

func TestMatchErrors(t *testing.T) {
	c, r := exchange(t, "bob", "123456")
	tests := []struct {
		name       string
		challenge  []byte
		response   []byte
		candidates []mfa.Secret
		want       string
	}{
		{"nt-response short", c, r[:23], secrets("123456"), "NT-Response is 23 bytes, want 24"},
		{"nt-response long", c, append(r, 0), secrets("123456"), "NT-Response is 25 bytes, want 24"},
		{"nt-response empty", c, nil, secrets("123456"), "NT-Response is 0 bytes"},
		{"nt-response is the whole MS-CHAP2-Response", c, make([]byte, 50), secrets("123456"), "NT-Response is 50 bytes"},
		{"challenge short", c[:7], r, secrets("123456"), "challenge hash is 7 bytes, want 8"},
		{"challenge is the 16-byte authenticator challenge", make([]byte, 16), r, secrets("123456"), "challenge hash is 16 bytes, want 8"},
		{"challenge empty", nil, r, secrets("123456"), "challenge hash is 0 bytes"},
		{"candidate not utf-8", c, r, secrets("123456", "\xff\xfe"), "candidate 1: mschap: password is not valid UTF-8"},
		{"candidate too long", c, r, secrets(strings.Repeat("9", 257)), "candidate 0: mschap: password is longer than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, ok, err := mschap.Match(tt.challenge, tt.response, tt.candidates)
			if err == nil || !strings.Contains(err.Error(), tt.want) || ok || i != -1 {
				t.Fatalf("got %d, %v, %v; want -1, false, error containing %q", i, ok, err, tt.want)
			}
			for _, s := range tt.candidates {
				if len(s) > 0 && strings.Contains(err.Error(), s.Reveal()) {
					t.Fatalf("error %q contains a candidate", err)
				}
			}
		})
	}
}

// FuzzMatch checks that no input crashes the matcher and that a response
// computed for a candidate always matches it.
func FuzzMatch(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte("123456"), "bob", []byte("123456"))
	f.Add([]byte("0123456789abcdef"), []byte(" "), "", []byte("\xff"))
	f.Fuzz(func(t *testing.T, challenge, typed []byte, user string, candidate []byte) {
		_, _, _ = mschap.Match(challenge, typed, [][]byte{candidate})
		if len(challenge) != mschap.ChallengeLen {
			return
		}
		r, err := mschap.GenerateNTResponse(challenge, challenge, user, typed)
		if err != nil {
			return
		}
		c, err := mschap.ChallengeHash(challenge, challenge, user)
		if err != nil {
			t.Fatal(err)
		}
		i, ok, err := mschap.Match(c[:], r[:], [][]byte{candidate, typed})
		if err != nil {
			return // candidate not valid UTF-8
		}
		if !ok || (i == 0) != (string(candidate) == string(typed)) {
			t.Fatalf("got %d, %v", i, ok)
		}
	})
}

// otpCandidates returns what the engine would try for a user over
// MS-CHAPv2: every code of each device inside ±window steps, then the
// triggers.
func otpCandidates(b testing.TB, devices []mfa.Device, now time.Time, window int64) []mfa.Secret {
	b.Helper()
	var out []mfa.Secret
	for _, d := range devices {
		step := mfa.Step(d, now)
		for c := step - window; c <= step+window; c++ {
			code, err := mfa.Code(d, c)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, mfa.Secret(code))
		}
	}
	for _, t := range []string{"p", "s", "g", "e", " "} {
		out = append(out, mfa.Secret(t))
	}
	return out
}

func testDevices(b testing.TB, n int) []mfa.Device {
	b.Helper()
	var out []mfa.Device
	for i := range n {
		key, err := base32.StdEncoding.DecodeString("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
		if err != nil {
			b.Fatal(err)
		}
		key[0] += byte(i)
		out = append(out, mfa.Device{Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: key})
	}
	return out
}

// BenchmarkMatch measures matching alone for candidate lists of the sizes
// the ntlm_auth front door meets: one device at the default ±1 window
// (3 codes + 5 triggers), and 3 devices at ±10 steps, the outer window
// (3 × 21 codes + 5 triggers = 68).
func BenchmarkMatch(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	for _, bc := range []struct {
		devices int
		window  int64
	}{{1, 1}, {3, 1}, {3, 10}} {
		cands := otpCandidates(b, testDevices(b, bc.devices), now, bc.window)
		c, r := exchange(b, "bob", "999999") // no match: every candidate is tried anyway
		b.Run(fmt.Sprintf("devices=%d/window=%d/candidates=%d", bc.devices, bc.window, len(cands)), func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := mschap.Match(c, r, cands); ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkCandidatesAndMatch adds the OTP computation (mfa.Code per
// window step) to the matching: the whole CPU cost of one MS-CHAPv2
// decision for 3 devices at ±10 steps plus 5 triggers.
func BenchmarkCandidatesAndMatch(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	devices := testDevices(b, 3)
	c, r := exchange(b, "bob", "999999")
	for b.Loop() {
		cands := otpCandidates(b, devices, now, 10)
		if _, ok, err := mschap.Match(c, r, cands); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkNTPasswordHash(b *testing.B) {
	p := mfa.Secret("123456")
	for b.Loop() {
		if _, err := mschap.NTPasswordHash(p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMatchHashes checks that matching NT hashes gives what matching the
// passwords gives, and that the input checks are the same.
func TestMatchHashes(t *testing.T) {
	candidates := []string{"p", "123456", "s", "654321", "123456"}
	var hashes []mschap.Hash
	for _, c := range candidates {
		h, err := mschap.NTPasswordHash([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	tests := []struct {
		name      string
		typed     string
		wantIndex int
		wantOK    bool
	}{
		{"first", "p", 0, true},
		{"duplicate: first wins", "123456", 1, true},
		{"last distinct", "654321", 3, true},
		{"none", "x", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, r := exchange(t, "bob", tt.typed)
			i, ok, err := mschap.MatchHashes(c, r, hashes)
			if err != nil || i != tt.wantIndex || ok != tt.wantOK {
				t.Fatalf("got %d, %v, %v; want %d, %v", i, ok, err, tt.wantIndex, tt.wantOK)
			}
			if j, ok2, _ := mschap.Match(c, r, secrets(candidates...)); j != i || ok2 != ok {
				t.Fatalf("Match says %d, %v", j, ok2)
			}
		})
	}
	c, r := exchange(t, "bob", "p")
	if _, _, err := mschap.MatchHashes(c[:7], r, hashes); err == nil || !strings.Contains(err.Error(), "challenge hash is 7 bytes") {
		t.Fatalf("short challenge: %v", err)
	}
	if _, _, err := mschap.MatchHashes(c, r[:23], hashes); err == nil || !strings.Contains(err.Error(), "NT-Response is 23 bytes") {
		t.Fatalf("short response: %v", err)
	}
	if i, ok, err := mschap.MatchHashes(c, r, nil); i != -1 || ok || err != nil {
		t.Fatalf("no candidates: %d, %v, %v", i, ok, err)
	}
}
