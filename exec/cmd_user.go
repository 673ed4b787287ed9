package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

func (c *cli) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list, show, enable, disable and remove users",
		Long: `Manage users. User names are normalised as [users] in the config says
(case-insensitive by default), so "Alice" and "alice" are one user.
Every change is recorded in the audit log (radmfa report audit).`,
	}
	cmd.AddCommand(c.userAddCommand(), c.userListCommand(), c.userShowCommand(),
		c.userSetCommand("enable", false), c.userSetCommand("disable", true), c.userRemoveCommand(),
		c.userUnlockCommand(), c.userResyncCommand(), c.userBypassCommand())
	return cmd
}

// normalize applies the configured user-name rules, as a usage error.
func normalize(cfg *config, raw string) (string, error) {
	name, err := cfg.Users.Normalize(raw)
	if err != nil {
		return "", usagef("user name \"%s\": empty, too long or contains control characters", mfa.Printable(raw))
	}
	return name, nil
}

func (c *cli) userAddCommand() *cobra.Command {
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user with a first TOTP (or HOTP) device and show its QR code",
		Long: `Add a user with a new TOTP device. radmfa generates a 160-bit secret and
prints the otpauth:// URI and a QR code for an authenticator app (Microsoft or
Google Authenticator, FreeOTP, Aegis, …). To import an existing token instead,
pass --secret BASE32 or --uri otpauth://… (use - to read either from stdin,
which keeps the secret out of the process list and shell history). A URI
carries its own algorithm, digits and period, so --algorithm, --digits and
--period go with --secret or a new secret only.

--hotp makes the first device a counter-based HOTP token (RFC 4226), starting
at --counter. More devices, and push, SMS or e-mail devices: radmfa device add.

The database and its key file are created if they do not exist yet.`,
		Example: `  radmfa user add alice
  radmfa user add bob --qr bob.png --digits 8 --algorithm SHA256
  echo JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP | radmfa user add carol --secret -
  radmfa user add dave --uri 'otpauth://totp/Corp:dave?secret=…&issuer=Corp'`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.config()
			if err != nil {
				return err
			}
			name, err := normalize(cfg, args[0])
			if err != nil {
				return err
			}
			device, err := pickDeviceName(kf.device, kf.hotp, nil)
			if err != nil {
				return err
			}
			key, imported, err := kf.key(cmd.Flags(), c.stdin, cfg, name)
			if err != nil {
				return err
			}
			store, err := c.openStore(cmd.Context(), cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.CreateUser(cmd.Context(), c.actor(), name, key.Device(device)); err != nil {
				if errors.Is(err, sqlite.ErrExists) {
					return fmt.Errorf("user %q already exists (add more devices with: radmfa device add %s)", name, name)
				}
				return err
			}
			if kf.qrFile != "" {
				if err := writeQR(kf.qrFile, key.URI()); err != nil {
					return err
				}
			}
			if name != args[0] && !kf.json {
				fmt.Fprintf(c.stdout, "Note: stored as %q (user names are normalised).\n", name)
			}
			return printEnrollment(c.stdout, key, name, device, imported, kf.qrFile, kf.json)
		},
	}
	kf.register(cmd.Flags())
	return cmd
}

// userJSON is the JSON form of a user.
type userJSON struct {
	Name      string       `json:"name"`
	Enabled   bool         `json:"enabled"`
	CreatedAt time.Time    `json:"created_at"`
	Devices   []deviceJSON `json:"devices"`
}

type deviceJSON struct {
	Name      string     `json:"name"`
	Type      string     `json:"type"`
	Algorithm string     `json:"algorithm"`
	Digits    int        `json:"digits"`
	Period    int        `json:"period"`
	Enabled   bool       `json:"enabled"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Address   string     `json:"address,omitempty"`
	Notifier  string     `json:"notifier,omitempty"`
	Drift     int64      `json:"drift_steps,omitempty"`
	Counter   *int64     `json:"next_counter,omitempty"`
}

func toJSON(u sqlite.UserInfo) userJSON {
	j := userJSON{Name: u.Name, Enabled: !u.Disabled, CreatedAt: u.CreatedAt, Devices: []deviceJSON{}}
	for _, d := range u.Devices {
		dj := deviceJSON{Name: d.Name, Type: d.Kind.String(), Algorithm: d.Algorithm, Digits: d.Digits,
			Period: d.Period, Enabled: !d.Disabled, CreatedAt: d.CreatedAt, Address: d.Address, Notifier: d.Notifier, Drift: d.Drift}
		if d.Kind == mfa.DeviceHOTP {
			next := d.LastStep + 1
			dj.Counter = &next
		}
		if !d.LastUsed.IsZero() {
			t := d.LastUsed
			dj.LastUsed = &t
		}
		j.Devices = append(j.Devices, dj)
	}
	return j
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

// timeText formats a stored time for tables.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func (c *cli) userListCommand() *cobra.Command {
	var asJSON, fromLDAP bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users with their status and devices",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fromLDAP {
				return c.userListDirectory(cmd, limit, asJSON) // ldap.go
			}
			cfg, err := c.config()
			if err != nil {
				return err
			}
			store, err := c.openStore(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			defer store.Close()
			users, err := store.Users(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := []userJSON{}
				for _, u := range users {
					out = append(out, toJSON(u))
				}
				return writeJSON(c.stdout, out)
			}
			if len(users) == 0 {
				fmt.Fprintln(c.stdout, "No users yet. Add one with: radmfa user add NAME")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tDEVICES\tCREATED")
			for _, u := range users {
				enabled := 0
				for _, d := range u.Devices {
					if !d.Disabled {
						enabled++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%d enabled of %d\t%s\n", u.Name, status(u.Disabled), enabled, len(u.Devices), timeText(u.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "%d user(s)\n", len(users))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&fromLDAP, "from-ldap", false, "list the directory's users ([ldap]) with their devices there")
	cmd.Flags().IntVar(&limit, "limit", 1000, "with --from-ldap: at most this many users")
	return cmd
}

func (c *cli) userShowCommand() *cobra.Command {
	var asJSON, fromLDAP bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a user, its devices and its latest events",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fromLDAP {
				return c.userShowDirectory(cmd, args[0], asJSON) // ldap.go
			}
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				u, err := store.User(cmd.Context(), name)
				if err != nil {
					return notFound(err)
				}
				if asJSON {
					return writeJSON(c.stdout, toJSON(u))
				}
				st := status(u.Disabled)
				if !u.LockedUntil.IsZero() && time.Now().Before(u.LockedUntil) {
					st += ", locked until " + timeText(u.LockedUntil) + " (radmfa user unlock " + u.Name + ")"
				} else if u.Failures > 0 {
					st += fmt.Sprintf(", %d recent failure(s)", u.Failures)
				}
				fmt.Fprintf(c.stdout, "User:    %s\nStatus:  %s\nCreated: %s\n", u.Name, st, timeText(u.CreatedAt))
				now := time.Now()
				if now.Before(u.BypassUntil) {
					fmt.Fprintf(c.stdout, "Bypass:  no second factor until %s (radmfa user bypass %s --end)\n", timeText(u.BypassUntil), u.Name)
				}
				if now.Before(u.BypassCodeExpires) {
					fmt.Fprintf(c.stdout, "Bypass:  a one-time bypass code is valid until %s\n", timeText(u.BypassCodeExpires))
				}
				fmt.Fprintln(c.stdout)
				printDevices(c.stdout, u.Devices)
				events, err := store.Events(cmd.Context(), sqlite.EventQuery{User: name, Limit: 5})
				if err != nil {
					return err
				}
				if len(events) > 0 {
					fmt.Fprintln(c.stdout, "\nLatest events:")
					printEvents(c.stdout, events)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&fromLDAP, "from-ldap", false, "resolve the user in the directory ([ldap]): DN, devices there and here, phone, e-mail, groups")
	return cmd
}

func printDevices(w io.Writer, devices []sqlite.DeviceInfo) {
	if len(devices) == 0 {
		fmt.Fprintln(w, "No devices.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tTYPE\tDETAILS\tSTATUS\tCREATED\tLAST USED")
	for _, d := range devices {
		var details string
		switch d.Kind {
		case mfa.DevicePush, mfa.DeviceSMS, mfa.DeviceEmail:
			details = "to " + d.Address
			if d.Notifier != "" {
				details += " via " + d.Notifier
			}
		case mfa.DeviceHOTP:
			details = fmt.Sprintf("%s, %d digits, next counter %d", d.Algorithm, d.Digits, d.LastStep+1)
		default:
			details = fmt.Sprintf("%s, %d digits, %ds", d.Algorithm, d.Digits, d.Period)
			if d.Drift != 0 {
				details += fmt.Sprintf(", drift %+d steps", d.Drift)
			}
		}
		last := timeText(d.LastUsed)
		if d.Kind.Delivers() {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Kind, details, status(d.Disabled), timeText(d.CreatedAt), last)
	}
	tw.Flush()
}

func (c *cli) userSetCommand(verb string, disable bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: map[bool]string{true: "Disable a user: every login is rejected", false: "Enable a disabled user"}[disable],
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				if err := store.SetUserDisabled(cmd.Context(), c.actor(), name, disable); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "User %q %sd.\n", name, verb)
				return nil
			})
		},
	}
}

func (c *cli) userUnlockCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock NAME",
		Short: "Clear a user's lockout and failure count",
		Long: `A user is locked for [lockout] duration (15m) after [lockout] failures (5)
consecutive failures: wrong or replayed codes, invalid passcodes, pushes denied
with "It wasn't me" or a wrong number. unlock ends the lock now.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				if err := store.UnlockUser(cmd.Context(), c.actor(), name); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "User %q unlocked.\n", name)
				return nil
			})
		},
	}
}

func (c *cli) userResyncCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resync NAME CODE1 CODE2",
		Short: "Resynchronise a user's token from two consecutive codes",
		Long: `resync finds the user's TOTP or HOTP token that shows CODE1 and then CODE2,
searching far wider than a login does (±100 TOTP steps, 1000 HOTP counters),
and records where the token is: a TOTP token's drift, an HOTP token's counter.
Users can also resynchronise themselves: a code just outside the normal window
makes radmfa ask for the next one ("Outer Window Authentication"). With [ldap]
configured, the user's tokens from the directory are searched as well (their
position is kept in radmfa's database; nothing is written to the directory).
The change is audited; it also clears a lockout.`,
		Example: `  radmfa user resync alice 123456 654321`,
		Args:    exactArgs("NAME", "CODE1", "CODE2"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(cfg *config, store *sqlite.Store, name string) error {
				dir, err := openDirectory(cfg)
				if err != nil {
					return err
				}
				if dir != nil {
					defer dir.Close()
				}
				engine, err := mfa.New(store, cfg.engineConfig(), directoryOptions(cfg, dir)...)
				if err != nil {
					return err
				}
				device, drift, err := engine.Resync(cmd.Context(), name, args[1], args[2])
				if err != nil {
					return notFound(err)
				}
				detail := fmt.Sprintf("device %s, drift %+d steps", device, drift)
				if err := store.AddAudit(cmd.Context(), c.actor(), "user.resync", name, detail); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "User %q: %s resynchronised (%+d steps).\n", name, device, drift)
				return nil
			})
		},
	}
}

func (c *cli) userBypassCommand() *cobra.Command {
	var dur, valid string
	var code, end bool
	cmd := &cobra.Command{
		Use:   "bypass NAME",
		Short: "Let a user in without a second factor for a while, or with a one-time code",
		Long: `bypass is the help desk's answer to "my phone is dead" (seed 002's one-time
bypass). Check who is calling first.

  --for 1h    any passcode is accepted for the next hour (at most 7 days)
  --code      print a one-time 8-digit code the user types instead of an OTP;
              it works once, until --valid (default 24h)
  --end       end a bypass window early and cancel an unused code

Every bypass is audited and every login through one is an event (method
"bypass"), so reports always show them.`,
		Example: `  radmfa user bypass alice --for 1h
  radmfa user bypass alice --code --valid 4h`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			chosen := 0
			for _, b := range []bool{dur != "", code, end} {
				if b {
					chosen++
				}
			}
			if chosen != 1 {
				return usagef("choose one of --for DURATION, --code and --end")
			}
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				now := time.Now()
				switch {
				case end:
					if err := store.SetBypass(cmd.Context(), c.actor(), name, time.Time{}); err != nil {
						return notFound(err)
					}
					fmt.Fprintf(c.stdout, "Bypass for %q ended.\n", name)
				case code:
					v, err := mfa.ParseDuration(valid)
					if err != nil || v <= 0 || v > 7*24*time.Hour {
						return usagef("--valid %q: want a duration up to 7d", valid)
					}
					e, err := mfa.New(store, mfa.Config{})
					if err != nil {
						return err
					}
					secret, err := e.NewBypassCode()
					if err != nil {
						return err
					}
					if err := store.SetBypassCode(cmd.Context(), c.actor(), name, mfa.BypassCodeHash(secret), now.Add(v)); err != nil {
						return notFound(err)
					}
					fmt.Fprintf(c.stdout, "One-time bypass code for %q: %s\nIt works once, until %s. Give it to the user only.\n", name, secret, timeText(now.Add(v)))
				default:
					d, err := mfa.ParseDuration(dur)
					if err != nil || d <= 0 || d > 7*24*time.Hour {
						return usagef("--for %q: want a duration up to 7d, e.g. 1h", dur)
					}
					if err := store.SetBypass(cmd.Context(), c.actor(), name, now.Add(d)); err != nil {
						return notFound(err)
					}
					fmt.Fprintf(c.stdout, "User %q can sign in without a second factor until %s.\n", name, timeText(now.Add(d)))
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dur, "for", "", "bypass window, e.g. 1h")
	f.BoolVar(&code, "code", false, "print a one-time bypass code")
	f.StringVar(&valid, "valid", "24h", "how long the one-time code stays valid")
	f.BoolVar(&end, "end", false, "end a bypass window")
	return cmd
}

func (c *cli) userRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user and its devices (its events stay in the log)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				if err := store.RemoveUser(cmd.Context(), c.actor(), name); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "User %q removed.\n", name)
				return nil
			})
		},
	}
}
