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
		c.userUnlockCommand())
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
		Short: "Add a user with a first TOTP device and show its QR code",
		Long: `Add a user with a new TOTP device. radmfa generates a 160-bit secret and
prints the otpauth:// URI and a QR code for an authenticator app (Microsoft or
Google Authenticator, FreeOTP, Aegis, …). To import an existing token instead,
pass --secret BASE32 or --uri otpauth://… (use - to read either from stdin,
which keeps the secret out of the process list and shell history).

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
			device, err := pickDeviceName(kf.device, nil)
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
}

func toJSON(u sqlite.UserInfo) userJSON {
	j := userJSON{Name: u.Name, Enabled: !u.Disabled, CreatedAt: u.CreatedAt, Devices: []deviceJSON{}}
	for _, d := range u.Devices {
		dj := deviceJSON{Name: d.Name, Type: d.Kind.String(), Algorithm: d.Algorithm, Digits: d.Digits,
			Period: d.Period, Enabled: !d.Disabled, CreatedAt: d.CreatedAt, Address: d.Address, Notifier: d.Notifier}
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
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users with their status and devices",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	return cmd
}

func (c *cli) userShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a user, its devices and its latest events",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(store *sqlite.Store, name string) error {
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
				fmt.Fprintf(c.stdout, "User:    %s\nStatus:  %s\nCreated: %s\n\n", u.Name, st, timeText(u.CreatedAt))
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
	return cmd
}

func printDevices(w io.Writer, devices []sqlite.DeviceInfo) {
	if len(devices) == 0 {
		fmt.Fprintln(w, "No devices.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tTYPE\tALGORITHM\tDIGITS\tPERIOD\tSTATUS\tCREATED\tLAST USED")
	for _, d := range devices {
		if d.Kind == mfa.DevicePush {
			fmt.Fprintf(tw, "%s\t%s\t-> %s\t-\t-\t%s\t%s\t-\n", d.Name, d.Kind, d.Address, status(d.Disabled), timeText(d.CreatedAt))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%ds\t%s\t%s\t%s\n", d.Name, d.Kind, d.Algorithm, d.Digits, d.Period,
			status(d.Disabled), timeText(d.CreatedAt), timeText(d.LastUsed))
	}
	tw.Flush()
}

func (c *cli) userSetCommand(verb string, disable bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: map[bool]string{true: "Disable a user: every login is rejected", false: "Enable a disabled user"}[disable],
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(store *sqlite.Store, name string) error {
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
			return c.withUser(cmd, args[0], func(store *sqlite.Store, name string) error {
				if err := store.UnlockUser(cmd.Context(), c.actor(), name); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "User %q unlocked.\n", name)
				return nil
			})
		},
	}
}

func (c *cli) userRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user and its devices (its events stay in the log)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(store *sqlite.Store, name string) error {
				if err := store.RemoveUser(cmd.Context(), c.actor(), name); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "User %q removed.\n", name)
				return nil
			})
		},
	}
}
