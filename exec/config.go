package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/radmfa/radmfa/internal/ldapdir"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/enroll"
	"github.com/radmfa/radmfa/plugin/host"
	"github.com/radmfa/radmfa/sqlite"
)

// DefaultDataDir holds everything when there is no config file.
const DefaultDataDir = "radmfa-data"

// config is radmfa.toml. Each section belongs to the package that uses it;
// every zero value is a documented default, so an empty file (or none) is a
// working configuration.
type config struct {
	// DataDir holds the database and key file unless [store] says
	// otherwise. Default ./radmfa-data; relative paths in this file are
	// relative to the file's directory.
	DataDir string `toml:"data_dir"`
	// Node names this radmfa in events. Default: the host name.
	Node string `toml:"node"`

	Store     sqlite.Config          `toml:"store"`
	OTP       mfa.OTPConfig          `toml:"otp"`
	Challenge mfa.ChallengeConfig    `toml:"challenge"`
	Users     mfa.UserNames          `toml:"users"`
	Enroll    enrollConfig           `toml:"enroll"`
	Exec      execConfig             `toml:"exec"`
	Serve     serveConfig            `toml:"serve"`
	Log       logConfig              `toml:"log"`
	Retention sqlite.RetentionConfig `toml:"retention"`
	Push      mfa.PushConfig         `toml:"push"`
	Lockout   mfa.LockoutConfig      `toml:"lockout"`
	Profiles  []mfa.Profile          `toml:"profile"`
	Approval  approvalConfig         `toml:"approval"`
	Codes     mfa.CodesConfig        `toml:"codes"`
	// Notifiers are the notifier plugins by name ([notifiers.NAME]):
	// pushes, SMS and e-mail codes and alerts go through them.
	Notifiers map[string]host.Config `toml:"notifiers"`
	// Admin is the admin report page of serve (off without a
	// credential file).
	Admin adminConfig `toml:"admin"`
	// LDAP is the directory (LDAP, Active Directory) that holds users,
	// their OTP secrets and passwords (off while url is empty; ldap.go).
	LDAP ldapdir.Config `toml:"ldap"`
	// SelfService is serve's self-service enrollment page (off while
	// listen is empty).
	SelfService enroll.Config `toml:"self_service"`

	// file is where the config came from ("" for the embedded default).
	file string
}

// parseConfig decodes a config file strictly: an unknown key, a wrong type
// or a syntax error is an error naming file, line and column.
func parseConfig(data []byte, name string) (*config, error) {
	var c config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, configError(name, err)
	}
	c.file = name
	return &c, nil
}

// configError turns go-toml errors into "file:line:col: message" lines.
func configError(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var lines []string
		for _, e := range strict.Errors {
			row, col := e.Position()
			lines = append(lines, fmt.Sprintf("%s:%d:%d: unknown key %q", name, row, col, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(lines, "\n"))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			msg = strings.Join(k, ".") + ": " + msg
		}
		return fmt.Errorf("%s:%d:%d: %s", name, row, col, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// loadConfig reads the config file, or returns the embedded default when
// path is empty, and resolves every path in it.
func loadConfig(path string) (*config, error) {
	c := &config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if c, err = parseConfig(data, path); err != nil {
			return nil, err
		}
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	return c, nil
}

// resolve applies defaults and makes paths absolute: relative to the
// config file's directory, or to the working directory without one.
func (c *config) resolve() error {
	base := "."
	if c.file != "" {
		base = filepath.Dir(c.file)
	}
	abs := func(p string) (string, error) {
		if p == "" || filepath.IsAbs(p) {
			return p, nil
		}
		return filepath.Abs(filepath.Join(base, p))
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	var err error
	for _, p := range []*string{&c.DataDir, &c.Store.Path, &c.Store.KeyFile, &c.Log.File, &c.Serve.TLSCert, &c.Serve.TLSKey,
		&c.Approval.TLSCert, &c.Approval.TLSKey, &c.Approval.APIKeyFile, &c.Admin.CredentialFile, &c.Admin.TLSCert, &c.Admin.TLSKey,
		&c.LDAP.BindPasswordFile, &c.LDAP.CAFile, &c.SelfService.TLSCert, &c.SelfService.TLSKey} {
		if *p, err = abs(*p); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.DataDir, "radmfa.db")
	}
	return nil
}

// setDB overrides the database path (--db, RADMFA_DB). The key file
// follows the database unless the config names one.
func (c *config) setDB(path string) error {
	p, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	c.Store.Path = p
	return nil
}

// validate checks every section.
func (c *config) validate() error {
	return errors.Join(
		c.Store.Validate(),
		c.OTP.Validate(),
		c.Challenge.Validate(),
		c.Enroll.validate(),
		c.Exec.validate(),
		c.Serve.validate(),
		c.Log.validate(),
		c.Retention.Validate(),
		c.Approval.validate(),
		checkNotifiers(c),
		c.Admin.validate(),
		checkLDAP(c), // ldap.go
		c.engineConfig().Validate(),
	)
}

// engineConfig is the engine's share of the config.
func (c *config) engineConfig() mfa.Config {
	node := c.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	return mfa.Config{OTP: c.OTP, Challenge: c.Challenge, Users: c.Users, Push: c.Push, Codes: c.Codes, Lockout: c.Lockout,
		Profiles: c.Profiles, Node: node}
}
