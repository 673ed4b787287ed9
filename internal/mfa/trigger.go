package mfa

import (
	"fmt"
	"unicode/utf8"
)

// Trigger classifies what the user typed in the password field, following
// SafeNet's "simple mode" grammar (seed 003, SPEC §2). Only the class is ever
// stored; the passcode itself never is.
type Trigger uint8

// Trigger classes. The zero value is invalid.
const (
	TriggerInvalid Trigger = iota
	TriggerEmpty           // nothing typed: push, or the fallback without push
	TriggerOneChar         // any one character other than s, e, g
	TriggerSMS             // "s": send an SMS code
	TriggerEmail           // "e": send an e-mail code
	TriggerGrid            // "g": grid method (reserved)
	TriggerCode            // digits only, two or more: an OTP code
	TriggerOther           // anything else: an invalid passcode
)

var triggerNames = [...]string{"invalid", "empty", "1-char", "s", "e", "g", "code", "other"}

// String returns the name stored in events ("empty", "1-char", "s", …).
func (t Trigger) String() string {
	if int(t) < len(triggerNames) {
		return triggerNames[t]
	}
	return fmt.Sprintf("Trigger(%d)", t)
}

// ParseTrigger is the inverse of Trigger.String.
func ParseTrigger(s string) (Trigger, error) {
	for i, n := range triggerNames {
		if i > 0 && n == s {
			return Trigger(i), nil
		}
	}
	return TriggerInvalid, fmt.Errorf("mfa: unknown trigger class %q", s)
}

// ClassifyPasscode returns the trigger class of a passcode. Letters are
// matched case-insensitively; "one character" means one Unicode code point,
// so "é" is a 1-character passcode. A single digit is a 1-character
// passcode, not a code. Invalid UTF-8 is TriggerOther.
func ClassifyPasscode(p string) Trigger {
	if p == "" {
		return TriggerEmpty
	}
	if !utf8.ValidString(p) {
		return TriggerOther
	}
	if utf8.RuneCountInString(p) == 1 {
		switch p {
		case "s", "S":
			return TriggerSMS
		case "e", "E":
			return TriggerEmail
		case "g", "G":
			return TriggerGrid
		}
		return TriggerOneChar
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return TriggerOther
		}
	}
	return TriggerCode
}

// IsPushTrigger reports whether the class asks for a push (or, where push is
// not available, for the user's fallback method).
func (t Trigger) IsPushTrigger() bool {
	return t == TriggerEmpty || t == TriggerOneChar
}
