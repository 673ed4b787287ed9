package mfa

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// UserNames says how user names are normalised before lookup, lockout and
// replay checks, so that "BOB", "bob " and "CORP\bob" cannot dodge a lockout
// by spelling. It is the [users] section of the config; the zero value is
// the default: case-insensitive, nothing stripped.
type UserNames struct {
	// CaseSensitive keeps case as typed. Default false: names are case-folded.
	CaseSensitive bool `toml:"case_sensitive"`
	// StripDomain removes a leading Windows domain ("CORP\bob" → "bob").
	StripDomain bool `toml:"strip_domain"`
	// StripRealm removes a realm: everything from the first "@"
	// ("bob@example.com" → "bob").
	StripRealm bool `toml:"strip_realm"`
}

// ErrInvalidUserName is returned for user names that cannot be valid: empty,
// longer than a RADIUS attribute, not UTF-8, or containing control
// characters.
var ErrInvalidUserName = errors.New("mfa: invalid user name")

// Normalize returns the canonical form of a user name: Unicode NFC, without
// surrounding white space, domain or realm stripped as configured, and
// lower-cased unless CaseSensitive. Lower-casing uses Unicode's simple
// case mappings (as Go's strings.EqualFold does), which keeps radmfa exec's
// start-up free of golang.org/x/text/cases and its language tables.
func (u UserNames) Normalize(raw string) (string, error) {
	if len(raw) > maxAttrLen || !utf8.ValidString(raw) {
		return "", ErrInvalidUserName
	}
	for _, r := range raw {
		if unicode.IsControl(r) {
			return "", ErrInvalidUserName
		}
	}
	name := strings.TrimSpace(norm.NFC.String(raw))
	if u.StripDomain {
		if i := strings.LastIndexByte(name, '\\'); i >= 0 {
			name = name[i+1:]
		}
	}
	if u.StripRealm {
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", ErrInvalidUserName
	}
	if !u.CaseSensitive {
		name = norm.NFC.String(strings.ToLower(name))
	}
	return name, nil
}

// Printable returns a form of an untrusted string that is safe to store and
// show: invalid UTF-8 and control characters are replaced by escapes, and the
// result is capped at maxAttrLen bytes.
func Printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxAttrLen; {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[s[i]>>4])
			b.WriteByte("0123456789abcdef"[s[i]&0xf])
		case unicode.IsControl(r):
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte("0123456789abcdef"[(r>>shift)&0xf])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
