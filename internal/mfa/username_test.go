package mfa

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	strip := UserNames{StripDomain: true, StripRealm: true}
	tests := []struct {
		name string
		cfg  UserNames
		in   string
		want string
		err  error
	}{
		{"lower", UserNames{}, "bob", "bob", nil},
		{"upper folded", UserNames{}, "BoB", "bob", nil},
		{"spaces trimmed", UserNames{}, "  bob\u00a0", "bob", nil},
		{"german sharp s folded", UserNames{}, "STRASSE", "strasse", nil},
		{"nfc", UserNames{}, "Jose\u0301", "josé", nil},
		{"case sensitive", UserNames{CaseSensitive: true}, "BoB", "BoB", nil},
		{"domain kept by default", UserNames{}, `CORP\Bob`, `corp\bob`, nil},
		{"domain stripped", strip, `CORP\Bob`, "bob", nil},
		{"realm kept by default", UserNames{}, "bob@example.com", "bob@example.com", nil},
		{"realm stripped", strip, "Bob@Example.com", "bob", nil},
		{"both stripped", strip, `CORP\bob@example.com`, "bob", nil},
		{"quotes allowed", UserNames{}, `o'brien "x"`, `o'brien "x"`, nil},
		{"xlat text kept literally", UserNames{}, "%{User-Password}", "%{user-password}", nil},
		{"empty", UserNames{}, "", "", ErrInvalidUserName},
		{"only spaces", UserNames{}, "   ", "", ErrInvalidUserName},
		{"only domain", strip, `CORP\`, "", ErrInvalidUserName},
		{"newline", UserNames{}, "bob\nAuth-Type := Accept", "", ErrInvalidUserName},
		{"nul", UserNames{}, "bob\x00", "", ErrInvalidUserName},
		{"invalid utf8", UserNames{}, "bob\xff", "", ErrInvalidUserName},
		{"too long", UserNames{}, strings.Repeat("a", 254), "", ErrInvalidUserName},
		{"max length", UserNames{}, strings.Repeat("a", 253), strings.Repeat("a", 253), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.Normalize(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "bob", "bob"},
		{"utf8", "josé", "josé"},
		{"newline", "a\nb", `a\u000ab`},
		{"invalid byte", "a\xffb", `a\xffb`},
		{"quotes kept", `a"b'c`, `a"b'c`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Printable(tt.in); got != tt.want {
				t.Fatalf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := Printable(strings.Repeat("\xff", 1000)); len(got) > maxAttrLen+4 {
		t.Fatalf("Printable did not cap: %d bytes", len(got))
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"bob", `CORP\bob@x`, "\xff", "é", "  ", "BOB"} {
		f.Add(s)
	}
	u := UserNames{StripDomain: true, StripRealm: true}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := u.Normalize(s)
		if err != nil {
			return
		}
		if n == "" {
			t.Fatalf("Normalize(%q) = empty without error", s)
		}
		// Normalisation is idempotent: a normalised name maps to itself.
		again, err := u.Normalize(n)
		if err != nil || again != n {
			t.Fatalf("Normalize not idempotent: %q → %q → %q (%v)", s, n, again, err)
		}
	})
}
