package mschap

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The example of RFC 2759 §9.2, whose values RFC 3079 §3.5.3 repeats and
// extends with the MPPE keys.
const (
	rfcUser          = "User"
	rfcPassword      = "clientPass"
	rfcAuthChallenge = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28"
	rfcPeerChallenge = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E"
	rfcChallenge     = "D0 2E 43 86 BC E9 12 26"
	rfcPasswordHash  = "44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE"
	rfcNTResponse    = "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF"
	rfcHashHash      = "41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F"
	rfcAuthResponse  = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	rfcMasterKey     = "FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31"
	rfcSendStartKey  = "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB"
)

func TestRFC2759Vectors(t *testing.T) {
	auth, peer := unhex(t, rfcAuthChallenge), unhex(t, rfcPeerChallenge)

	t.Run("ChallengeHash", func(t *testing.T) {
		got, err := ChallengeHash(peer, auth, rfcUser)
		if err != nil || !bytes.Equal(got[:], unhex(t, rfcChallenge)) {
			t.Fatalf("got %X, %v; want %s", got, err, rfcChallenge)
		}
	})
	t.Run("NtPasswordHash", func(t *testing.T) {
		got, err := NTPasswordHash([]byte(rfcPassword))
		if err != nil || !bytes.Equal(got.Bytes(), unhex(t, rfcPasswordHash)) {
			t.Fatalf("got %X, %v; want %s", got.Bytes(), err, rfcPasswordHash)
		}
	})
	t.Run("ChallengeResponse", func(t *testing.T) {
		got, err := ChallengeResponse(unhex(t, rfcChallenge), Hash(unhex(t, rfcPasswordHash)))
		if err != nil || !bytes.Equal(got[:], unhex(t, rfcNTResponse)) {
			t.Fatalf("got %X, %v; want %s", got, err, rfcNTResponse)
		}
	})
	t.Run("GenerateNTResponse", func(t *testing.T) {
		got, err := GenerateNTResponse(auth, peer, rfcUser, []byte(rfcPassword))
		if err != nil || !bytes.Equal(got[:], unhex(t, rfcNTResponse)) {
			t.Fatalf("got %X, %v; want %s", got, err, rfcNTResponse)
		}
	})
	t.Run("HashNtPasswordHash", func(t *testing.T) {
		got := HashNTPasswordHash(Hash(unhex(t, rfcPasswordHash)))
		if !bytes.Equal(got.Bytes(), unhex(t, rfcHashHash)) {
			t.Fatalf("got %X, want %s", got.Bytes(), rfcHashHash)
		}
		key, err := NTKey([]byte(rfcPassword))
		if err != nil || key != got {
			t.Fatalf("NTKey: got %X, %v; want %s", key.Bytes(), err, rfcHashHash)
		}
		if want := strings.ReplaceAll(rfcHashHash, " ", ""); key.Hex() != want {
			t.Fatalf("Hex() = %q, want %q", key.Hex(), want)
		}
	})
	t.Run("GenerateAuthenticatorResponse", func(t *testing.T) {
		got, err := AuthenticatorResponse(Hash(unhex(t, rfcHashHash)), unhex(t, rfcNTResponse), peer, auth, rfcUser)
		if err != nil || got != rfcAuthResponse {
			t.Fatalf("got %q, %v; want %q", got, err, rfcAuthResponse)
		}
	})
}

func TestRFC3079Vectors(t *testing.T) {
	master, err := MasterKey(Hash(unhex(t, rfcHashHash)), unhex(t, rfcNTResponse))
	if err != nil || !bytes.Equal(master[:], unhex(t, rfcMasterKey)) {
		t.Fatalf("MasterKey: got %X, %v; want %s", master[:], err, rfcMasterKey)
	}
	send, recv, err := ServerKeys(Hash(unhex(t, rfcHashHash)), unhex(t, rfcNTResponse))
	if err != nil {
		t.Fatal(err)
	}
	// SendStartKey128 of §3.5.3 is GetAsymmetricStartKey(IsSend, IsServer):
	// the server's send key.
	if !bytes.Equal(send[:], unhex(t, rfcSendStartKey)) {
		t.Fatalf("send key: got %X, want %s", send[:], rfcSendStartKey)
	}
	if recv == send {
		t.Fatal("receive key equals send key: Magic2 and Magic3 mixed up")
	}
	if want := "0x" + strings.ToLower(strings.ReplaceAll(rfcSendStartKey, " ", "")); send.Octets() != want {
		t.Fatalf("Octets() = %q, want %q", send.Octets(), want)
	}
}

// Published NT hashes (the NTLM hashes password crackers and MS-NLMP use).
func TestNTPasswordHashVectors(t *testing.T) {
	tests := []struct {
		name, password, want string
	}{
		{"empty", "", "31d6cfe0d16ae931b73c59d7e0c089c0"},
		{"password", "password", "8846f7eaee8fb117ad06bdd830b7586c"},
		{"MS-NLMP 4.2.2.1.2 Password", "Password", "a4f49c406510bdcab6824ee7c30fd852"},
		{"clientPass (RFC 2759)", "clientPass", "44ebba8d5312b8d611474411f56989ae"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NTPasswordHash([]byte(tt.password))
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Bytes()); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			v, err := NTPasswordValue([]byte(tt.password))
			if err != nil || v != "0x"+tt.want {
				t.Fatalf("NTPasswordValue = %q, %v; want %q", v, err, "0x"+tt.want)
			}
		})
	}
}

func TestUTF16Encoding(t *testing.T) {
	tests := []struct {
		name, password string
		want           []byte
		err            error
	}{
		{"ascii", "ab", []byte{'a', 0, 'b', 0}, nil},
		{"latin-1", "é", []byte{0xe9, 0}, nil},
		{"bmp", "€", []byte{0xac, 0x20}, nil},
		{"surrogate pair", "😀", []byte{0x3d, 0xd8, 0x00, 0xde}, nil},
		{"space", " ", []byte{' ', 0}, nil},
		{"invalid utf-8", "a\xffb", nil, ErrPasswordEncoding},
		{"truncated utf-8", "\xe2\x82", nil, ErrPasswordEncoding},
		{"longest", strings.Repeat("x", MaxPasswordLen), bytes.Repeat([]byte{'x', 0}, MaxPasswordLen), nil},
		{"too long", strings.Repeat("x", MaxPasswordLen+1), nil, ErrPasswordLength},
		{"too long by a surrogate pair", strings.Repeat("x", MaxPasswordLen-1) + "😀", nil, ErrPasswordLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := utf16LE(nil, []byte(tt.password))
			if !errors.Is(err, tt.err) || !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, %v; want % x, %v", got, err, tt.want, tt.err)
			}
			if _, err := NTPasswordHash([]byte(tt.password)); !errors.Is(err, tt.err) {
				t.Fatalf("NTPasswordHash error %v, want %v", err, tt.err)
			}
		})
	}
}

func TestDESKey(t *testing.T) {
	tests := []struct {
		name      string
		key7, key []byte
	}{
		// Every bit set: seven key bits per byte, parity bit clear (odd).
		{"ones", unhex(t, "ffffffffffffff"), unhex(t, "fefefefefefefefe")},
		// No bit set: parity bit set.
		{"zeros", unhex(t, "00000000000000"), unhex(t, "0101010101010101")},
		// 0x80 followed by zeros: the first key bit lands in byte 0 only.
		{"first bit", unhex(t, "80000000000000"), unhex(t, "8001010101010101")},
		// The last key bit lands in bit 1 of byte 7.
		{"last bit", unhex(t, "00000000000001"), unhex(t, "0101010101010102")},
		// 0x01 in byte 0 is key bit 7, the top of byte 1.
		{"bit 7", unhex(t, "01000000000000"), unhex(t, "0180010101010101")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desKey((*[7]byte)(tt.key7))
			if !bytes.Equal(got[:], tt.key) {
				t.Fatalf("got %X, want %X", got, tt.key)
			}
		})
	}
}

func TestBadSizes(t *testing.T) {
	ch := make([]byte, ChallengeLen)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"peer challenge short", func() error { _, err := ChallengeHash(ch[:15], ch, "u"); return err }, "peer challenge is 15 bytes, want 16"},
		{"peer challenge nil", func() error { _, err := ChallengeHash(nil, ch, "u"); return err }, "peer challenge is 0 bytes"},
		{"authenticator challenge long", func() error { _, err := ChallengeHash(ch, make([]byte, 17), "u"); return err }, "authenticator challenge is 17 bytes"},
		{"challenge hash short", func() error { _, err := ChallengeResponse(ch[:7], Hash{}); return err }, "challenge hash is 7 bytes, want 8"},
		{"challenge hash long", func() error { _, err := ChallengeResponse(ch, Hash{}); return err }, "challenge hash is 16 bytes, want 8"},
		{"generate with short challenge", func() error { _, err := GenerateNTResponse(ch[:8], ch, "u", []byte("p")); return err }, "authenticator challenge is 8 bytes"},
		{"generate with bad password", func() error { _, err := GenerateNTResponse(ch, ch, "u", []byte("\xff")); return err }, "not valid UTF-8"},
		{"authenticator response short NT-Response", func() error {
			_, err := AuthenticatorResponse(Hash{}, make([]byte, 23), ch, ch, "u")
			return err
		}, "NT-Response is 23 bytes, want 24"},
		{"authenticator response bad challenge", func() error {
			_, err := AuthenticatorResponse(Hash{}, make([]byte, 24), ch, ch[:1], "u")
			return err
		}, "authenticator challenge is 1 bytes"},
		{"master key long NT-Response", func() error { _, err := MasterKey(Hash{}, make([]byte, 25)); return err }, "NT-Response is 25 bytes"},
		{"server keys empty NT-Response", func() error { _, _, err := ServerKeys(Hash{}, nil); return err }, "NT-Response is 0 bytes"},
		{"ntkey bad password", func() error { _, err := NTKey([]byte("\xc0")); return err }, "not valid UTF-8"},
		{"nt-password bad password", func() error { _, err := NTPasswordValue([]byte("\xc0")); return err }, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "mschap: ") {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRedacted checks that hashes and keys never print their bytes.
func TestRedacted(t *testing.T) {
	h, err := NTPasswordHash([]byte("clientPass"))
	if err != nil {
		t.Fatal(err)
	}
	k := Key(h)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "hash", h, "key", k)
	js, err := json.Marshal(struct {
		H Hash
		K Key
	}{h, k})
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := h.MarshalText()
	ktxt, _ := k.MarshalText()
	for _, s := range []string{
		fmt.Sprint(h), fmt.Sprintf("%v %+v %#v %x %X %s %q %d", h, h, h, h, h, h, h, h),
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %x %X %s %q %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", []Hash{h}), fmt.Sprintf("%+v", struct{ H Hash }{h}),
		string(js), string(txt), string(ktxt), logged.String(),
	} {
		// 0x44 0xEB are the hash's first bytes, in hex or in decimal.
		low := strings.ToLower(s)
		if strings.Contains(low, "44eb") || strings.Contains(low, "44 eb") || strings.Contains(s, "68 235") || !strings.Contains(s, redacted) {
			t.Errorf("printed %q", s)
		}
	}
}
