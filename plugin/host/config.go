package host

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultStartTimeout = 10 * time.Second
	maxTimeout          = 10 * time.Minute
)

// Config is one notifier: a [notifiers.NAME] section of radmfa's config.
//
//	[notifiers.phone]
//	builtin = "ntfy"              # or: path = "/usr/lib/radmfa/sms-plugin"
//	timeout = "10s"               #     sha256 = "9f86d0…" (sha256sum of path)
//	[notifiers.phone.settings]    # handed to the plugin's Configure as JSON
//	topic = "radmfa-push"
type Config struct {
	// Builtin names a notifier that radmfa serves itself: command, ntfy,
	// smtp or webhook. Exactly one of Builtin and Path is set.
	Builtin string `toml:"builtin"`
	// Path is an external plugin program, absolute or relative to
	// Options.Dir.
	Path string `toml:"path"`
	// Args are arguments for Path.
	Args []string `toml:"args"`
	// SHA256 is the hex SHA-256 checksum of the file at Path (what
	// sha256sum prints, with or without the file name after it); required
	// with Path. radmfa refuses to start a
	// program whose checksum differs.
	SHA256 string `toml:"sha256"`
	// Timeout bounds each notification, delivery included. Default 10s.
	Timeout mfa.Duration `toml:"timeout"`
	// StartTimeout bounds starting and configuring the plugin. Default
	// 10s.
	StartTimeout mfa.Duration `toml:"start_timeout"`
	// Env adds KEY=VALUE entries to the plugin's environment. By default
	// a plugin gets only PATH, TMPDIR, TZ, LANG, LC_ALL, the proxy
	// variables and SSL_CERT_FILE/SSL_CERT_DIR from radmfa's.
	Env []string `toml:"env"`
	// Settings is the plugin's own settings table, passed to its
	// Configure as a JSON object. It never holds secrets: name files that
	// do (token_file, secret_file, password_file).
	Settings map[string]any `toml:"settings"`
}

// Options are what radmfa gives every notifier host.
type Options struct {
	// Logger receives the host's events and the plugin's logs, with a
	// "plugin" field naming the notifier. Give it component=plugin.
	Logger zerolog.Logger
	// Executable is the radmfa binary that serves built-in notifiers
	// ("radmfa plugin NAME"). Default: the running program (os.Executable).
	Executable string
	// Dir is the plugin's working directory, against which relative paths
	// in Path and in settings (token_file, …) resolve. Give it the config
	// file's directory. Default: radmfa's working directory.
	Dir string
}

// Validate checks the section without starting anything: the program and
// checksum, timeouts, environment, and for built-ins their settings.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Builtin != "" && c.Path != "":
		errs = append(errs, errors.New("builtin and path cannot be used together"))
	case c.Builtin == "" && c.Path == "":
		errs = append(errs, fmt.Errorf("want builtin (one of %s) or path", strings.Join(builtin.Names(), ", ")))
	case c.Builtin != "":
		if len(c.Args) > 0 || c.SHA256 != "" {
			errs = append(errs, errors.New("args and sha256 are for external plugins (path), not builtin ones"))
		}
		settings, err := c.settingsJSON()
		if err == nil {
			err = builtin.ValidateSettings(c.Builtin, settings)
		}
		if err != nil {
			errs = append(errs, err)
		}
	default:
		if _, err := parseChecksum(c.SHA256); err != nil {
			errs = append(errs, err)
		}
		if _, err := c.settingsJSON(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []struct {
		name string
		v    mfa.Duration
	}{{"timeout", c.Timeout}, {"start_timeout", c.StartTimeout}} {
		if d.v < 0 || time.Duration(d.v) > maxTimeout {
			errs = append(errs, fmt.Errorf("%s = %v: want 0 (default) to %v", d.name, time.Duration(d.v), maxTimeout))
		}
	}
	for _, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n\x00") {
			errs = append(errs, fmt.Errorf("env entry %q: want KEY=VALUE", e))
		} else if k == plugin.MagicCookieKey || strings.HasPrefix(k, "PLUGIN_") {
			errs = append(errs, fmt.Errorf("env entry %q: %s is set by radmfa", e, k))
		}
	}
	return errors.Join(errs...)
}

// parseChecksum decodes a hex SHA-256 checksum.
func parseChecksum(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("sha256 is required for an external plugin (the output of sha256sum PATH)")
	}
	// sha256sum prints "HASH  PATH": its first field is the checksum.
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("sha256 = %q: want 64 hex digits", s)
	}
	b, err := hex.DecodeString(fields[0])
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("sha256 = %q: want 64 hex digits (as sha256sum prints them)", s)
	}
	return b, nil
}

// settingsJSON encodes Settings for Configure.
func (c Config) settingsJSON() ([]byte, error) {
	if len(c.Settings) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(c.Settings)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return b, nil
}

func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return time.Duration(c.Timeout)
}

func (c Config) startTimeout() time.Duration {
	if c.StartTimeout == 0 {
		return DefaultStartTimeout
	}
	return time.Duration(c.StartTimeout)
}

// program returns the program to run and its arguments.
func (c Config) program(opts Options) (string, []string) {
	if c.Builtin != "" {
		return opts.Executable, []string{"plugin", c.Builtin}
	}
	path := c.Path
	if !filepath.IsAbs(path) && opts.Dir != "" {
		path = filepath.Join(opts.Dir, path)
	}
	return path, c.Args
}
