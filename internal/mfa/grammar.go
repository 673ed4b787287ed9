package mfa

import (
	"bytes"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Grammar says how the password field of an Access-Request is read (SPEC
// §2). It is chosen per profile ([[profile]] grammar); the zero value is
// GrammarSafeNet.
type Grammar string

// Grammars.
const (
	// GrammarSafeNet (default): the field holds only the passcode or a
	// trigger ("", "p", "s", "e", "123456"); the RADIUS server checked the
	// password itself.
	GrammarSafeNet Grammar = "safenet"
	// GrammarSuffix: the password, the delimiter and the factor:
	// "password,push", "password,sms", "password,email",
	// "password,123456". The factor may be left out ("password" or
	// "password,"): that is a push (or the fallback without push).
	GrammarSuffix Grammar = "suffix"
	// GrammarAppend: the password directly followed by the code
	// ("password123456"); without a code ("password") it is a push, or the
	// fallback without push.
	GrammarAppend Grammar = "append"
)

// Grammar defaults.
const (
	DefaultDelimiter  = ","
	DefaultCodeDigits = 6
)

func (g Grammar) orDefault() Grammar {
	if g == "" {
		return GrammarSafeNet
	}
	return g
}

// CarriesPassword reports whether requests under the grammar carry the
// user's password, which radmfa must then check (a FirstFactor).
func (g Grammar) CarriesPassword() bool {
	g = g.orDefault()
	return g == GrammarSuffix || g == GrammarAppend
}

// Validate reports an unknown grammar.
func (g Grammar) Validate() error {
	switch g.orDefault() {
	case GrammarSafeNet, GrammarSuffix, GrammarAppend:
		return nil
	}
	return fmt.Errorf("grammar %q: want safenet, suffix or append", string(g))
}

// validateDelimiter accepts one to eight printable characters that are
// neither letters, digits nor white space: a delimiter made of letters or
// digits would be found inside codes and trigger words.
func validateDelimiter(d string) error {
	if d == "" {
		return nil
	}
	if len(d) > 8 || !utf8.ValidString(d) {
		return fmt.Errorf("delimiter %q: want 1 to 8 characters", d)
	}
	for _, r := range d {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("delimiter %q: use punctuation such as \",\" (no letters, digits, spaces or control characters)", d)
		}
	}
	return nil
}

// Split is what a grammar finds in the password field.
type Split struct {
	// Password is the first factor, nil for GrammarSafeNet. It is empty
	// (but not nil) when the grammar expects one and none was typed.
	Password Secret
	// Passcode is the second-factor part in the terms of the SafeNet
	// grammar, which the engine then reads: "" (a push, or the fallback),
	// "s" (SMS code), "e" (e-mail code) or a code.
	Passcode Secret
}

// suffixWords are the factors the suffix grammar knows besides codes,
// compared case-insensitively, and what they mean in SafeNet terms.
var suffixWords = map[string]string{"": "", "push": "", "p": "", "sms": "s", "s": "s", "email": "e", "e": "e"}

// SplitPassword reads what the user typed under grammar g. delim is the
// suffix grammar's delimiter ("" means DefaultDelimiter) and digits the
// append grammar's code length (0 means DefaultCodeDigits). It never
// fails: whatever cannot be read as a factor is part of the password, and
// checking the password then decides.
//
// suffix: the text after the last delimiter is the factor when it is a
// trigger word (push, p, sms, s, email, e; any case), empty, or a code of 6
// to 8 digits; otherwise, or without a delimiter, everything typed is the
// password and the factor is a push. So "pa,ss,123456" is the password
// "pa,ss" with a code, and "pa,ss" is the password "pa,ss" with a push.
//
// append: when the last digits characters typed are digits, they are the
// code and the rest is the password; otherwise everything is the password
// and the factor is a push. So a password that ends in that many digits
// can only be used with a code after it.
func SplitPassword(g Grammar, delim string, digits int, typed Secret) Split {
	switch g.orDefault() {
	case GrammarSuffix:
		if delim == "" {
			delim = DefaultDelimiter
		}
		i := bytes.LastIndex(typed, []byte(delim))
		if i < 0 {
			return Split{Password: clone(typed), Passcode: Secret{}}
		}
		factor := typed[i+len(delim):]
		if w, ok := suffixWords[string(bytes.ToLower(factor))]; ok && len(factor) <= 5 {
			return Split{Password: clone(typed[:i]), Passcode: Secret(w)}
		}
		if n := len(factor); n >= 6 && n <= 8 && allDigits(factor) {
			return Split{Password: clone(typed[:i]), Passcode: clone(factor)}
		}
		return Split{Password: clone(typed), Passcode: Secret{}}
	case GrammarAppend:
		if digits == 0 {
			digits = DefaultCodeDigits
		}
		n := len(typed)
		if n >= digits && allDigits(typed[n-digits:]) {
			return Split{Password: clone(typed[:n-digits]), Passcode: clone(typed[n-digits:])}
		}
		return Split{Password: clone(typed), Passcode: Secret{}}
	}
	return Split{Passcode: typed}
}

func clone(s Secret) Secret { return append(Secret{}, s...) }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

// validateGrammar checks a profile's grammar keys.
func (p Profile) validateGrammar() error {
	var errs []error
	if err := p.Grammar.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("profile %q: %w", p.Name, err))
	}
	if err := validateDelimiter(p.Delimiter); err != nil {
		errs = append(errs, fmt.Errorf("profile %q: %w", p.Name, err))
	}
	if p.Delimiter != "" && p.Grammar.orDefault() != GrammarSuffix {
		errs = append(errs, fmt.Errorf("profile %q: delimiter is for grammar = \"suffix\"", p.Name))
	}
	if d := p.CodeDigits; d != 0 && d != 6 && d != 8 {
		errs = append(errs, fmt.Errorf("profile %q: code_digits = %d: want 6 or 8", p.Name, d))
	}
	if p.CodeDigits != 0 && p.Grammar.orDefault() != GrammarAppend {
		errs = append(errs, fmt.Errorf("profile %q: code_digits is for grammar = \"append\"", p.Name))
	}
	return errors.Join(errs...)
}

// split applies the profile's grammar to a passcode.
func (p Profile) split(typed Secret) Split {
	return SplitPassword(p.Grammar, p.Delimiter, p.CodeDigits, typed)
}
