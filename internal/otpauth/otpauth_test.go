package otpauth

import (
	"strings"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
)

const rfcB32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Key
	}{
		{"google minimal", "otpauth://totp/alice@example.com?secret=" + rfcB32,
			Key{Kind: mfa.DeviceTOTP, Account: "alice@example.com", Algorithm: "SHA1", Digits: 6, Period: 30}},
		{"issuer in label and param", "otpauth://totp/ACME%20Co:john.doe@email.com?secret=" + rfcB32 + "&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
			Key{Kind: mfa.DeviceTOTP, Issuer: "ACME Co", Account: "john.doe@email.com", Algorithm: "SHA256", Digits: 8, Period: 60}},
		{"lower-case everything", "OTPAUTH://TOTP/x?secret=" + strings.ToLower(rfcB32) + "&algorithm=sha512",
			Key{Kind: mfa.DeviceTOTP, Account: "x", Algorithm: "SHA512", Digits: 6, Period: 30}},
		{"padded secret", "otpauth://totp/x?secret=" + rfcB32 + "======",
			Key{Kind: mfa.DeviceTOTP, Account: "x", Algorithm: "SHA1", Digits: 6, Period: 30}},
		{"unknown parameter ignored", "otpauth://totp/x?secret=" + rfcB32 + "&image=https://x/y.png",
			Key{Kind: mfa.DeviceTOTP, Account: "x", Algorithm: "SHA1", Digits: 6, Period: 30}},
		{"hotp", "otpauth://hotp/x?secret=" + rfcB32 + "&counter=5",
			Key{Kind: mfa.DeviceHOTP, Account: "x", Algorithm: "SHA1", Digits: 6, Period: 30, Counter: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Secret) != "12345678901234567890" {
				t.Fatalf("secret = %q", got.Secret.Reveal())
			}
			got.Secret = nil
			if got.Kind != tt.want.Kind || got.Issuer != tt.want.Issuer || got.Account != tt.want.Account ||
				got.Algorithm != tt.want.Algorithm || got.Digits != tt.want.Digits || got.Period != tt.want.Period || got.Counter != tt.want.Counter {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "scheme"},
		{"http", "https://example.com/?secret=" + rfcB32, "scheme"},
		{"bad type", "otpauth://motp/x?secret=" + rfcB32, "type"},
		{"no secret", "otpauth://totp/x", "no secret"},
		{"empty secret", "otpauth://totp/x?secret=", "no secret"},
		{"bad base32", "otpauth://totp/x?secret=1189!!", "base32"},
		{"short secret", "otpauth://totp/x?secret=GEZDGNBV", "at least 80"},
		{"huge secret", "otpauth://totp/x?secret=" + strings.Repeat("A", 300), "at most"},
		{"md5", "otpauth://totp/x?secret=" + rfcB32 + "&algorithm=MD5", "algorithm"},
		{"7 digits", "otpauth://totp/x?secret=" + rfcB32 + "&digits=7", "digits"},
		{"period 0", "otpauth://totp/x?secret=" + rfcB32 + "&period=0", "period"},
		{"period text", "otpauth://totp/x?secret=" + rfcB32 + "&period=abc", "period"},
		{"duplicate secret", "otpauth://totp/x?secret=" + rfcB32 + "&secret=" + rfcB32, "2 times"},
		{"issuer mismatch", "otpauth://totp/A:x?secret=" + rfcB32 + "&issuer=B", "differs"},
		{"hotp without counter", "otpauth://hotp/x?secret=" + rfcB32, "counter"},
		{"counter on totp", "otpauth://totp/x?secret=" + rfcB32 + "&counter=1", "counter"},
		{"negative counter", "otpauth://hotp/x?secret=" + rfcB32 + "&counter=-1", "counter"},
		{"bad escape", "otpauth://totp/x?secret=" + rfcB32 + "&issuer=%zz", "escape"},
		{"port", "otpauth://totp:99/x?secret=" + rfcB32, "want otpauth"},
		{"too long", "otpauth://totp/x?secret=" + rfcB32 + "&x=" + strings.Repeat("a", 3000), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), rfcB32[:8]) {
				t.Fatalf("error leaks the secret: %q", err)
			}
		})
	}
}

func TestDecodeSecret(t *testing.T) {
	for _, in := range []string{rfcB32, strings.ToLower(rfcB32), "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ", rfcB32 + "===="} {
		t.Run(in, func(t *testing.T) {
			got, err := DecodeSecret(in)
			if err != nil || string(got) != "12345678901234567890" {
				t.Fatalf("got %q, %v", got.Reveal(), err)
			}
		})
	}
}

func TestURIRoundTrip(t *testing.T) {
	k := Key{Kind: mfa.DeviceTOTP, Issuer: "Example Corp", Account: "bob o'brien", Secret: mfa.Secret("12345678901234567890"), Algorithm: "SHA256", Digits: 8, Period: 30}
	u := k.URI()
	if !strings.HasPrefix(u, "otpauth://totp/Example%20Corp:bob%20o%27brien?") || !strings.Contains(u, "secret="+rfcB32) {
		t.Fatalf("URI %s", u)
	}
	back, err := Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if back.URI() != u {
		t.Fatalf("round trip: %s != %s", back.URI(), u)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("otpauth://totp/ACME:bob?secret=" + rfcB32 + "&issuer=ACME&digits=8")
	f.Add("otpauth://hotp/x?secret=" + rfcB32 + "&counter=3")
	f.Add("otpauth://totp/%zz?secret=x")
	f.Add("otpauth:opaque")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if err != nil {
			return
		}
		if len(k.Secret) < MinSecretBytes || (k.Digits != 6 && k.Digits != 8) || k.Period < 1 {
			t.Fatalf("Parse(%q) accepted unusable key %+v", s, k)
		}
		again, err := Parse(k.URI())
		if err != nil {
			t.Fatalf("Parse(URI()) of %q: %v", s, err)
		}
		if again.URI() != k.URI() {
			t.Fatalf("not stable: %s vs %s", again.URI(), k.URI())
		}
	})
}
