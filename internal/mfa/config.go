package mfa

import (
	"errors"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes as text in config files
// ("30s", "5m", "1h30m"), plus a "d" suffix for days ("365d").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// String is the duration as time.Duration writes it ("5m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ParseDuration parses a Go duration or a whole number of days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days int
		if _, err := fmt.Sscanf(s[:n-1], "%d", &days); err == nil && fmt.Sprint(days) == s[:n-1] {
			if days < 0 || days > 100*365 {
				return 0, fmt.Errorf("duration %q out of range", s)
			}
			return time.Duration(days) * 24 * time.Hour, nil
		}
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 2h or 30d)", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 2h or 30d)", s)
	}
	return v, nil
}

// OTPConfig is the [otp] section: how codes are verified.
type OTPConfig struct {
	// Window is how many TOTP steps either side of now are accepted, to
	// allow for clock drift. Unset means 1 (±30 s with the default period);
	// 0 accepts only the current step; at most 10.
	Window *int `toml:"window"`
	// OuterWindow is how many TOTP steps either side a code may be and
	// still lead to resynchronisation ("enter the next code"): default 10.
	OuterWindow int `toml:"outer_window"`
	// HOTPLookahead is how many HOTP counters ahead are accepted: default
	// 10.
	HOTPLookahead int `toml:"hotp_lookahead"`
	// HOTPOuterWindow is how many counters ahead a code may be and still
	// lead to resynchronisation: default 100.
	HOTPOuterWindow int `toml:"hotp_outer_window"`
}

// OTP window defaults.
const (
	DefaultOuterWindow     = 10
	DefaultHOTPLookahead   = 10
	DefaultHOTPOuterWindow = 100
)

func (c OTPConfig) outer() int64 {
	if c.OuterWindow == 0 {
		return DefaultOuterWindow
	}
	return int64(c.OuterWindow)
}

func (c OTPConfig) lookahead() int64 {
	if c.HOTPLookahead == 0 {
		return DefaultHOTPLookahead
	}
	return int64(c.HOTPLookahead)
}

func (c OTPConfig) hotpOuter() int64 {
	if c.HOTPOuterWindow == 0 {
		return DefaultHOTPOuterWindow
	}
	return int64(c.HOTPOuterWindow)
}

// DefaultWindow is the TOTP window used when [otp] window is unset.
const DefaultWindow = 1

// MaxWindow bounds [otp] window: a wider window makes guessing easier.
const MaxWindow = 10

func (c OTPConfig) window() int {
	if c.Window == nil {
		return DefaultWindow
	}
	return *c.Window
}

// Validate reports configuration errors.
func (c OTPConfig) Validate() error {
	var errs []error
	if w := c.window(); w < 0 || w > MaxWindow {
		errs = append(errs, fmt.Errorf("otp.window = %d: must be between 0 and %d", w, MaxWindow))
	}
	if o := c.outer(); o < int64(c.window()) || o > 100 {
		errs = append(errs, fmt.Errorf("otp.outer_window = %d: must be between otp.window and 100", o))
	}
	if l := c.lookahead(); l < 1 || l > 100 {
		errs = append(errs, fmt.Errorf("otp.hotp_lookahead = %d: must be between 1 and 100", l))
	}
	if o := c.hotpOuter(); o < c.lookahead() || o > 1000 {
		errs = append(errs, fmt.Errorf("otp.hotp_outer_window = %d: must be between otp.hotp_lookahead and 1000", o))
	}
	return errors.Join(errs...)
}

// ChallengeConfig is the [challenge] section.
type ChallengeConfig struct {
	// Timeout is how long an Access-Challenge can be answered. Default 5m.
	Timeout Duration `toml:"timeout"`
}

// DefaultChallengeTimeout is used when [challenge] timeout is unset.
const DefaultChallengeTimeout = 5 * time.Minute

func (c ChallengeConfig) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultChallengeTimeout
	}
	return time.Duration(c.Timeout)
}

// Validate reports configuration errors.
func (c ChallengeConfig) Validate() error {
	if t := c.timeout(); t < 10*time.Second || t > time.Hour {
		return fmt.Errorf("challenge.timeout = %s: must be between 10s and 1h", t)
	}
	return nil
}

// Config configures an Engine. Each field is a section of radmfa.toml.
type Config struct {
	OTP       OTPConfig
	Challenge ChallengeConfig
	Users     UserNames
	Push      PushConfig
	Codes     CodesConfig
	Lockout   LockoutConfig
	Profiles  []Profile
	// Node names this radmfa instance in events (default: the host name,
	// filled in by the caller).
	Node string
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	errs := []error{c.OTP.Validate(), c.Challenge.Validate(), c.Push.Validate(), c.Codes.Validate(), c.Lockout.Validate()}
	names := map[string]bool{}
	for _, p := range c.Profiles {
		if names[p.Name] {
			errs = append(errs, fmt.Errorf("two profiles named %q", p.Name))
		}
		names[p.Name] = true
		errs = append(errs, p.Validate(c.Push))
	}
	return errors.Join(errs...)
}
