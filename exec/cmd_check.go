package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

func (c *cli) checkConfigCommand() *cobra.Command {
	var frDir string
	var ldapUser string
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "Check the config file and the database, and show the settings in effect",
		Long: `check-config reads the config file strictly (an unknown key or a wrong type is
an error naming the line), applies the defaults, opens the database and checks
that the key file belongs to it. It prints the settings in effect and exits 0
when everything is usable, 1 otherwise. A push variant that shows a number
(choose, enter) with the inline flow is an error: only an Access-Challenge
can show the number.

It warns when a profile's NAS gives up (nas_timeout × (1 + nas_retries))
before its push times out, and with --freeradius-dir when FreeRADIUS's
limits (rlm_rest's timeout, max_request_time) are shorter than the longest
push timeout (radmfa doctor checks these too).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config()
			if err != nil {
				return err
			}
			w := c.stdout
			fmt.Fprintf(w, "Config:            %s\n", cfg.name())
			fmt.Fprintf(w, "Data directory:    %s\n", cfg.DataDir)
			fmt.Fprintf(w, "Database:          %s\n", cfg.Store.Path)
			fmt.Fprintf(w, "Key file:          %s\n", cfg.Store.KeyPath())
			ec := cfg.engineConfig()
			window := mfa.DefaultWindow
			if cfg.OTP.Window != nil {
				window = *cfg.OTP.Window
			}
			fmt.Fprintf(w, "OTP window:        ±%d step(s)\n", window)
			fmt.Fprintf(w, "Challenge timeout: %s\n", challengeTimeout(cfg))
			fmt.Fprintf(w, "User names:        %s\n", describeUserNames(cfg.Users))
			fmt.Fprintf(w, "Exec timeout:      %s\n", cfg.Exec.timeout())
			fmt.Fprintf(w, "Node:              %s\n", ec.Node)
			logTo := "standard error"
			if cfg.Log.File != "" {
				logTo = cfg.Log.File
			}
			fmt.Fprintf(w, "Log:               %s\n", logTo)
			fmt.Fprintf(w, "Notifiers:         %s\n", describeNotifiers(cfg))
			fmt.Fprintf(w, "Push:              %s\n", describePush(cfg))
			for _, f := range nasFindings(cfg) {
				if f.level == "warn" {
					fmt.Fprintf(w, "Warning:           %s\n", f.msg)
				}
			}
			if frDir != "" {
				if err := printFRPushWarnings(w, cfg, frDir); err != nil {
					return err
				}
			}
			admin := "off (no admin.credential_file)"
			if cfg.Admin.CredentialFile != "" {
				admin = "on, " + cfg.Admin.listen()
				if cfg.Admin.TLSCert != "" {
					admin += " (TLS)"
				}
			}
			fmt.Fprintf(w, "Admin page:        %s\n", admin)

			store, err := c.openStore(cmd.Context(), cfg, false)
			switch {
			case errors.Is(err, sqlite.ErrNoDatabase):
				fmt.Fprintf(w, "Database status:   not created yet (radmfa user add or the first radmfa exec creates it)\n")
			case err != nil:
				return fmt.Errorf("database: %w", err)
			default:
				defer store.Close()
				users, err := store.Users(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "Database status:   ok (schema %d, %d users)\n", sqlite.SchemaVersion, len(users))
				for _, warn := range deviceNotifierWarnings(cfg, users) {
					fmt.Fprintf(w, "Warning:           %s\n", warn)
				}
				if st, err := os.Stat(cfg.Store.KeyPath()); err == nil && st.Mode().Perm()&0o077 != 0 {
					fmt.Fprintf(w, "Warning:           key file mode is %04o; 0600 keeps it private to radmfa's user\n", st.Mode().Perm())
				}
			}
			if err := c.checkDirectory(cmd.Context(), w, cfg, ldapUser); err != nil { // ldap.go
				return err
			}
			fmt.Fprintln(w, "OK")
			return nil
		},
	}
	cmd.Flags().StringVar(&frDir, "freeradius-dir", "", "also check the push timeout against this FreeRADIUS configuration directory (e.g. /etc/freeradius/3.0; not checked without it)")
	cmd.Flags().StringVar(&ldapUser, "ldap-user", "", "also look this user up in the directory ([ldap]); the bind and a read of base_dn are always checked")
	return cmd
}

// printFRPushWarnings reads a FreeRADIUS configuration directory and
// prints its limits that do not fit the push timeouts.
func printFRPushWarnings(w io.Writer, cfg *config, dir string) error {
	files, err := frFiles(dir, func(p string, err error) {
		fmt.Fprintf(w, "Warning:           could not read %s: %v\n", p, err)
	})
	if err != nil {
		return fmt.Errorf("--freeradius-dir: %w", err)
	}
	lim := frLimitsOf(dir, files)
	warns := 0
	for _, f := range pushFRFindings(cfg, lim) {
		if f.level == "warn" {
			warns++
			fmt.Fprintf(w, "Warning:           %s\n", f.msg)
		}
	}
	what := fmt.Sprintf("max_request_time %g s, max_servers %d, %d radmfa rest and %d exec module(s)", lim.maxRequestTime, lim.maxServers, len(lim.rest), len(lim.exec))
	switch _, push := longestPushWait(cfg); {
	case !push:
		what += "; push is off"
	case warns == 0:
		what += "; they fit the longest push timeout"
	}
	fmt.Fprintf(w, "FreeRADIUS:        %s: %s\n", dir, what)
	return nil
}

func challengeTimeout(cfg *config) string {
	if cfg.Challenge.Timeout == 0 {
		return mfa.DefaultChallengeTimeout.String()
	}
	return fmt.Sprint(mfa.Duration(cfg.Challenge.Timeout))
}

func describeUserNames(u mfa.UserNames) string {
	s := "case-insensitive"
	if u.CaseSensitive {
		s = "case-sensitive"
	}
	if u.StripDomain {
		s += ", DOMAIN\\ stripped"
	}
	if u.StripRealm {
		s += ", @realm stripped"
	}
	return s
}

func describeNotifiers(cfg *config) string {
	if len(cfg.Notifiers) == 0 {
		return "none (push, SMS and e-mail codes are off)"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Notifiers)) {
		n := cfg.Notifiers[name]
		what := n.Builtin
		if what == "" {
			what = n.Path
		}
		parts = append(parts, name+" ("+what+")")
	}
	s := strings.Join(parts, ", ")
	if d, err := defaultNotifier(slices.Sorted(maps.Keys(cfg.Notifiers))); err == nil {
		s += "; default: " + d
	} else {
		s += "; no default (devices must name one)"
	}
	return s
}

func describePush(cfg *config) string {
	if cfg.Push.ApprovalURL == "" {
		return "off (no push.approval_url)"
	}
	if len(cfg.Notifiers) == 0 {
		return "off (no notifier configured)"
	}
	timeout := mfa.Duration(mfa.DefaultPushTimeout)
	if cfg.Push.Timeout != 0 {
		timeout = cfg.Push.Timeout
	}
	flow := string(cfg.Push.Flow)
	if flow == "" {
		flow = string(mfa.FlowInline)
	}
	return fmt.Sprintf("on, %s, timeout %s, approval page %s", flow, time.Duration(timeout), cfg.Push.ApprovalURL)
}

// deviceNotifierWarnings names push, SMS and e-mail devices whose notifier
// is not configured.
func deviceNotifierWarnings(cfg *config, users []sqlite.UserInfo) []string {
	names := slices.Sorted(maps.Keys(cfg.Notifiers))
	_, defErr := defaultNotifier(names)
	var warns []string
	for _, u := range users {
		for _, d := range u.Devices {
			if !d.Kind.Delivers() || d.Disabled {
				continue
			}
			switch {
			case len(names) == 0:
				warns = append(warns, fmt.Sprintf("%s device %s/%s: no [notifiers] configured, nothing can reach it", d.Kind, u.Name, d.Name))
			case d.Notifier == "" && defErr != nil:
				warns = append(warns, fmt.Sprintf("%s device %s/%s: %v", d.Kind, u.Name, d.Name, defErr))
			case d.Notifier != "" && !slices.Contains(names, d.Notifier):
				warns = append(warns, fmt.Sprintf("%s device %s/%s: notifier %q is not configured", d.Kind, u.Name, d.Name, d.Notifier))
			}
		}
	}
	return warns
}
