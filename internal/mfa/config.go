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
	if w := c.window(); w < 0 || w > MaxWindow {
		return fmt.Errorf("otp.window = %d: must be between 0 and %d", w, MaxWindow)
	}
	return nil
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
	Lockout   LockoutConfig
	Profiles  []Profile
	// Node names this radmfa instance in events (default: the host name,
	// filled in by the caller).
	Node string
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	errs := []error{c.OTP.Validate(), c.Challenge.Validate(), c.Push.Validate(), c.Lockout.Validate()}
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
