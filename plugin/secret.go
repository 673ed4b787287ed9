package plugin

import (
	"fmt"
	"log/slog"
)

// Secret is a value that must never reach a log, an error or a report: the
// approval URL of a push, a one-time code. Every fmt verb (%v, %+v, %#v,
// %s, %q, %x), JSON, text marshalling and slog show "[redacted]"; Reveal
// returns the value for the one place that delivers it.
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb is redacted.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON implements json.Marshaler: a Secret marshals as
// "[redacted]". Notifiers that send it put Reveal's result in their own
// wire types.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (TOML, zerolog, slog
// text).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the secret itself. Never log it or put it in an error.
func (s Secret) Reveal() string { return string(s) }

// IsZero says whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }
