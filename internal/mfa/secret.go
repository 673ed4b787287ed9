package mfa

import (
	"fmt"
	"log/slog"
)

// Secret holds sensitive bytes: an OTP seed, a passcode, a key. It never
// prints its contents: fmt, %v, %+v, %#v, JSON and slog all show
// "[redacted]". Use Bytes or Reveal where the value is really needed.
type Secret []byte

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer so %#v stays redacted too.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb is redacted.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by TOML, zerolog).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the secret as a string, for the few places that must use it.
func (s Secret) Reveal() string { return string(s) }

// Bytes returns the secret's bytes.
func (s Secret) Bytes() []byte { return []byte(s) }
