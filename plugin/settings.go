package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// DecodeSettings decodes a JSON object strictly into v: an unknown field, a
// wrong type or trailing data is an error naming the field. Empty data
// leaves v unchanged.
func DecodeSettings(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("settings: %s: want %v, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("settings: trailing data after the JSON object")
	}
	return nil
}

// Duration is a time.Duration in plugin settings: a string such as "10s"
// or "1m30s", or a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("duration %s: %w", b, err)
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a number of seconds or a Go duration like \"10s\"", s)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f > float64(1<<62)/float64(time.Second) || f < -float64(1<<62)/float64(time.Second) {
		return fmt.Errorf("duration %s: want a number of seconds or a Go duration like \"10s\"", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON implements json.Marshaler ("10s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero (the documented default).
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
