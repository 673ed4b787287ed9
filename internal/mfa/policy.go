package mfa

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// PushConfig is the [push] section: push approvals through radmfa serve.
type PushConfig struct {
	// ApprovalURL is the public base URL of radmfa serve's approval page
	// (https://mfa.example.com). Push is off while it is empty.
	ApprovalURL string `toml:"approval_url"`
	// Organisation is shown on the approval page.
	Organisation string `toml:"organisation"`
	// Timeout is how long a push can be approved. Default 25s, which fits
	// FreeRADIUS's default max_request_time of 30 s.
	Timeout Duration `toml:"timeout"`
	// Flow is inline (default) or challenge.
	Flow PushFlow `toml:"flow"`
	// Variant is plain (default), ack, choose or enter.
	Variant PushVariant `toml:"variant"`
	// RateLimit is how many pushes a user may get per RateWindow
	// (default 3 per 5m): more are refused, against push bombing.
	RateLimit  int      `toml:"rate_limit"`
	RateWindow Duration `toml:"rate_window"`
	// JoinByCallingStation lets a different packet join a pending push
	// when user, RADIUS client and a non-empty Calling-Station-Id all
	// match, for a NAS that sends a new packet for the same login.
	// Default false: whoever shares the station (a NAT address, a spoofed
	// MAC) and knows the password would ride on the user's approval.
	// Retransmissions of the same packet always join.
	JoinByCallingStation *bool `toml:"join_by_calling_station"`
	// OperatorAlert is an address on the default notifier that gets a
	// copy of fraud alerts ("it wasn't me"). Default: none.
	OperatorAlert string `toml:"operator_alert"`
}

// Push defaults.
const (
	DefaultPushTimeout = 25 * time.Second
	DefaultRateLimit   = 3
	DefaultRateWindow  = 5 * time.Minute
)

func (p PushConfig) timeout() time.Duration {
	if p.Timeout == 0 {
		return DefaultPushTimeout
	}
	return time.Duration(p.Timeout)
}

func (p PushConfig) flow() PushFlow {
	if p.Flow == "" {
		return FlowInline
	}
	return p.Flow
}

func (p PushConfig) variant() PushVariant {
	if p.Variant == "" {
		return VariantPlain
	}
	return p.Variant
}

func (p PushConfig) rate() (int, time.Duration) {
	n, w := p.RateLimit, time.Duration(p.RateWindow)
	if n == 0 {
		n = DefaultRateLimit
	}
	if w == 0 {
		w = DefaultRateWindow
	}
	return n, w
}

func (p PushConfig) joinByStation() bool {
	return p.JoinByCallingStation != nil && *p.JoinByCallingStation
}

// Validate reports configuration errors.
func (p PushConfig) Validate() error {
	var errs []error
	if u := p.ApprovalURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		errs = append(errs, fmt.Errorf("push.approval_url = %q: want an http(s) URL", u))
	}
	if t := p.timeout(); t < 5*time.Second || t > 10*time.Minute {
		errs = append(errs, fmt.Errorf("push.timeout = %s: must be between 5s and 10m", t))
	}
	if err := validatePush(p.flow(), p.variant()); err != nil {
		errs = append(errs, fmt.Errorf("push: %w", err))
	}
	if n, w := p.rate(); n < 1 || w < time.Minute {
		errs = append(errs, fmt.Errorf("push.rate_limit = %d per %s: want at least 1 per 1m", n, w))
	}
	return errors.Join(errs...)
}

// LockoutConfig is the [lockout] section.
type LockoutConfig struct {
	// Failures is how many consecutive failures lock a user. Default 5.
	Failures int `toml:"failures"`
	// Duration is how long the lock lasts. Default 15m.
	Duration Duration `toml:"duration"`
}

// Lockout defaults.
const (
	DefaultLockoutFailures = 5
	DefaultLockoutDuration = 15 * time.Minute
)

func (l LockoutConfig) limits() (int, time.Duration) {
	n, d := l.Failures, time.Duration(l.Duration)
	if n == 0 {
		n = DefaultLockoutFailures
	}
	if d == 0 {
		d = DefaultLockoutDuration
	}
	return n, d
}

// Validate reports configuration errors.
func (l LockoutConfig) Validate() error {
	if n, d := l.limits(); n < 1 || n > 100 || d < time.Minute || d > 30*24*time.Hour {
		return fmt.Errorf("lockout: failures = %d, duration = %s: want 1–100 failures and 1m–30d", n, d)
	}
	return nil
}

// FailMode says what happens when a backend (the notifier, the daemon,
// a directory) is down: "secure" rejects (the default), "open" accepts.
// Store errors never fail open.
type FailMode string

// Fail modes.
const (
	FailSecure FailMode = "secure"
	FailOpen   FailMode = "open"
)

// ProfilePush overrides [push] for one profile.
type ProfilePush struct {
	// Disabled turns push off for the profile's clients (for example EAP
	// inner tunnels, which cannot show prompts, or NASes that cannot wait).
	Disabled bool        `toml:"disabled"`
	Flow     PushFlow    `toml:"flow"`
	Variant  PushVariant `toml:"variant"`
	Timeout  Duration    `toml:"timeout"`
}

// Profile is a [[profile]]: settings for the RADIUS clients it names. The
// match is on what FreeRADIUS authenticated (Client-Shortname, source
// address), never on NAS-IP-Address or NAS-Identifier, which any client can
// send to pick a weaker profile.
type Profile struct {
	Name string `toml:"name"`
	// Clients are client short names, IP addresses or CIDR prefixes.
	Clients []string `toml:"clients"`
	// Resource is what pushes and events call the service (default:
	// NAS-Identifier, Called-Station-Id or the client).
	Resource string      `toml:"resource"`
	FailMode FailMode    `toml:"fail_mode"`
	Push     ProfilePush `toml:"push"`
	// NASTimeout and NASRetries describe the profile's NAS: how long it
	// waits for an answer, and how many times it retransmits before it
	// gives up. radmfa decides nothing with them: check-config and doctor
	// warn when NASTimeout × (1 + NASRetries) is not longer than the push
	// timeout (the NAS would give up before the push is answered or the
	// fallback challenge arrives). Default: unknown, not checked.
	NASTimeout Duration `toml:"nas_timeout"`
	NASRetries int      `toml:"nas_retries"`
	// UnknownUser is "reject" (default) or "accept": let users radmfa does
	// not know through without a second factor (during a roll-out), every
	// time recorded as an event.
	UnknownUser string `toml:"unknown_user"`
	// Users overrides [users] (name normalisation) for these clients.
	Users *UserNames `toml:"users"`
	// Grammar is how the password field is read: safenet (default),
	// suffix or append (grammar.go). suffix and append carry the password,
	// which radmfa then checks against the directory.
	Grammar Grammar `toml:"grammar"`
	// Delimiter separates password and factor in the suffix grammar.
	// Default ",".
	Delimiter string `toml:"delimiter"`
	// CodeDigits is the length of the code at the end of what is typed in
	// the append grammar: 6 (default) or 8.
	CodeDigits int `toml:"code_digits"`
	// Groups, when set, limits the profile to members of one of these
	// directory groups (full DNs): a profile for the same clients further
	// down applies to everyone else (dirflow.go).
	Groups []string `toml:"groups"`
	// MFAGroups, when set, asks a second factor only of directory users in
	// one of these groups (full DNs); other directory users are accepted
	// without one (after their password, where the grammar carries it),
	// and every such acceptance is an event.
	MFAGroups []string `toml:"mfa_groups"`
}

// Validate reports configuration errors.
func (p Profile) Validate(push PushConfig) error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("profile without a name"))
	}
	if len(p.Clients) == 0 {
		errs = append(errs, fmt.Errorf("profile %q: no clients", p.Name))
	}
	for _, c := range p.Clients {
		if strings.ContainsAny(c, "./:") {
			if _, err := netip.ParsePrefix(c); err != nil {
				if _, err := netip.ParseAddr(c); err != nil {
					errs = append(errs, fmt.Errorf("profile %q: client %q is neither a short name, an address nor a CIDR prefix", p.Name, c))
				}
			}
		}
	}
	switch p.FailMode {
	case "", FailSecure, FailOpen:
	default:
		errs = append(errs, fmt.Errorf("profile %q: fail_mode %q: want secure or open", p.Name, p.FailMode))
	}
	switch p.UnknownUser {
	case "", "reject", "accept":
	default:
		errs = append(errs, fmt.Errorf("profile %q: unknown_user %q: want reject or accept", p.Name, p.UnknownUser))
	}
	if t := time.Duration(p.NASTimeout); t < 0 || t > 10*time.Minute || p.NASRetries < 0 || p.NASRetries > 10 {
		errs = append(errs, fmt.Errorf("profile %q: nas_timeout = %s, nas_retries = %d: want 0 to 10m and 0 to 10", p.Name, t, p.NASRetries))
	}
	s := p.push(push)
	if err := validatePush(s.flow, s.variant); err != nil {
		errs = append(errs, fmt.Errorf("profile %q: push: %w", p.Name, err))
	}
	errs = append(errs, p.validateGrammar(), p.validateGroups())
	return errors.Join(errs...)
}

// matches reports whether the profile applies to the request's client.
func (p Profile) matches(n NAS) bool {
	ip, _ := netip.ParseAddr(n.ClientIP)
	for _, c := range p.Clients {
		switch {
		case c == n.ClientName && c != "":
			return true
		case ip.IsValid():
			if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(ip) {
				return true
			}
			if a, err := netip.ParseAddr(c); err == nil && a == ip {
				return true
			}
		}
	}
	return false
}

// pushSettings is the push policy in effect for a request.
type pushSettings struct {
	enabled bool
	flow    PushFlow
	variant PushVariant
	timeout time.Duration
}

func (p Profile) push(global PushConfig) pushSettings {
	s := pushSettings{enabled: !p.Push.Disabled, flow: global.flow(), variant: global.variant(), timeout: global.timeout()}
	if p.Push.Flow != "" {
		s.flow = p.Push.Flow
	}
	if p.Push.Variant != "" {
		s.variant = p.Push.Variant
	}
	if p.Push.Timeout != 0 {
		s.timeout = time.Duration(p.Push.Timeout)
	}
	return s
}

func (p Profile) failMode() FailMode {
	if p.FailMode == "" {
		return FailSecure
	}
	return p.FailMode
}

// profileFor returns the first profile matching the request's client, or
// the default profile (named "default", the global settings). Profiles
// limited to groups are left out: which of them apply depends on the
// user's groups (Engine.profileFor).
func (c Config) profileFor(req Request) Profile {
	for _, p := range c.Profiles {
		if p.matches(req.NAS) && len(p.Groups) == 0 { // group profiles: Engine.profileFor
			return p
		}
	}
	return Profile{Name: "default"}
}
