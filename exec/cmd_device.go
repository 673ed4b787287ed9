package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

func (c *cli) deviceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Add, list, enable, disable and remove a user's OTP devices",
		Long: `Manage a user's OTP devices. A user may have several (a phone and a spare,
an authenticator app and a hardware token); any enabled device may answer.`,
	}
	cmd.AddCommand(c.deviceAddCommand(), c.deviceListCommand(),
		c.deviceSetCommand("enable", false), c.deviceSetCommand("disable", true), c.deviceRemoveCommand())
	return cmd
}

func (c *cli) deviceAddCommand() *cobra.Command {
	var kf keyFlags
	var push, sms, email bool
	var to, notifier string
	cmd := &cobra.Command{
		Use:   "add USER",
		Short: "Add another TOTP/HOTP device, or a push, SMS or e-mail device, to a user",
		Long: `Add a device to an existing user.

A TOTP device: options are those of "radmfa user add" (a new secret by default,
or --secret / --uri to import one).

An HOTP token (--hotp, --counter N): counter-based codes (RFC 4226).

A push device (--push): where radmfa serve sends sign-in requests to approve,
an address on a notifier: the user's ntfy topic, phone number or e-mail address
(--to), on the named notifier (--notifier, default: the default notifier).

An SMS or e-mail device (--sms, --email): where one-time codes go when the user
types s or e (or leaves the password empty without push), --to the phone
number or e-mail address, through --notifier.

All kinds coexist: the app's code works when a push or SMS cannot arrive.`,
		Example: `  radmfa device add alice --device tablet
  radmfa device add alice --device yubikey --secret - < secret.txt
  radmfa device add alice --push --to alice-4f9c2e --device phone-push
  radmfa device add alice --sms --to +447700900123 --notifier sms
  radmfa device add alice --hotp --counter 12 --secret - < token.txt`,
		Args: exactArgs("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(cfg *config, store *sqlite.Store, name string) error {
				u, err := store.User(cmd.Context(), name)
				if err != nil {
					return notFound(err)
				}
				var names []string
				for _, d := range u.Devices {
					names = append(names, d.Name)
				}
				kinds := 0
				for _, b := range []bool{push, sms, email} {
					if b {
						kinds++
					}
				}
				switch {
				case kinds > 1:
					return usagef("choose one of --push, --sms and --email")
				case push:
					return c.addDeliveryDevice(cmd, store, name, mfa.DevicePush, kf.device, names, to, notifier, kf.json)
				case sms:
					return c.addDeliveryDevice(cmd, store, name, mfa.DeviceSMS, kf.device, names, to, notifier, kf.json)
				case email:
					return c.addDeliveryDevice(cmd, store, name, mfa.DeviceEmail, kf.device, names, to, notifier, kf.json)
				case to != "" || notifier != "":
					return usagef("--to and --notifier are for push, SMS and e-mail devices")
				}
				device, err := pickDeviceName(kf.device, kf.hotp, names)
				if err != nil {
					return err
				}
				key, imported, err := kf.key(cmd.Flags(), c.stdin, cfg, name)
				if err != nil {
					return err
				}
				if err := store.AddDevice(cmd.Context(), c.actor(), name, key.Device(device)); err != nil {
					if errors.Is(err, sqlite.ErrExists) {
						return fmt.Errorf("user %q already has a device %q", name, device)
					}
					return notFound(err)
				}
				if kf.qrFile != "" {
					if err := writeQR(kf.qrFile, key.URI()); err != nil {
						return err
					}
				}
				return printEnrollment(c.stdout, key, name, device, imported, kf.qrFile, kf.json)
			})
		},
	}
	kf.register(cmd.Flags())
	cmd.Flags().BoolVar(&push, "push", false, "add a push device (no secret; needs --to)")
	cmd.Flags().BoolVar(&sms, "sms", false, "add an SMS device for one-time codes (needs --to)")
	cmd.Flags().BoolVar(&email, "email", false, "add an e-mail device for one-time codes (needs --to)")
	cmd.Flags().StringVar(&to, "to", "", "push/SMS/e-mail: the address on the notifier (ntfy topic, phone number, e-mail)")
	cmd.Flags().StringVar(&notifier, "notifier", "", "push/SMS/e-mail: the notifier's name (default: the default notifier)")
	return cmd
}

// addDeliveryDevice adds a push, SMS or e-mail device: an address on a
// notifier.
func (c *cli) addDeliveryDevice(cmd *cobra.Command, store *sqlite.Store, user string, kind mfa.DeviceKind, requested string, existing []string, to, notifier string, asJSON bool) error {
	for _, f := range []string{"secret", "uri", "algorithm", "digits", "period", "qr", "hotp", "counter"} {
		if cmd.Flags().Changed(f) {
			return usagef("--%s does not apply to a %s device", f, kind)
		}
	}
	if to == "" {
		return usagef("a %s device needs --to: the user's address on the notifier", kind)
	}
	name := requested
	if name == "" {
		name = kind.String()
		for i := 2; contains(existing, name); i++ {
			name = fmt.Sprintf("%s%d", kind, i)
		}
	} else if !validDeviceName(name) {
		return usagef("device name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	dev := mfa.Device{Name: name, Kind: kind, Address: to, Notifier: notifier}
	if err := mfa.ValidateDevice(dev); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "mfa: "))
	}
	if err := store.AddDevice(cmd.Context(), c.actor(), user, dev); err != nil {
		if errors.Is(err, sqlite.ErrExists) {
			return fmt.Errorf("user %q already has a device %q", user, name)
		}
		return notFound(err)
	}
	via := notifier
	if via == "" {
		via = "the default notifier"
	}
	what := map[mfa.DeviceKind]string{mfa.DevicePush: "sign-in requests", mfa.DeviceSMS: "SMS codes", mfa.DeviceEmail: "e-mail codes"}[kind]
	label := map[mfa.DeviceKind]string{mfa.DevicePush: "Push", mfa.DeviceSMS: "SMS", mfa.DeviceEmail: "E-mail"}[kind]
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]string{"user": user, "device": name, "kind": kind.String(), "to": to, "notifier": notifier}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.stdout, "%s device %q for user %q: %s go to %s via %s.\n", label, name, user, what, to, via)
	}
	if cfg, err := c.config(); err == nil {
		names := slices.Sorted(maps.Keys(cfg.Notifiers))
		_, defErr := defaultNotifier(names)
		switch {
		case len(names) == 0:
			fmt.Fprintf(c.stderr, "Warning: the config has no [notifiers] yet: nothing reaches this device until one is configured.\n")
		case notifier != "" && !slices.Contains(names, notifier):
			fmt.Fprintf(c.stderr, "Warning: notifier %q is not in the config (notifiers: %s).\n", notifier, strings.Join(names, ", "))
		case notifier == "" && defErr != nil:
			fmt.Fprintf(c.stderr, "Warning: %v.\n", defErr)
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cli) deviceListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list USER",
		Short: "List a user's devices",
		Args:  exactArgs("USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				u, err := store.User(cmd.Context(), name)
				if err != nil {
					return notFound(err)
				}
				if asJSON {
					return writeJSON(c.stdout, toJSON(u).Devices)
				}
				printDevices(c.stdout, u.Devices)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) deviceSetCommand(verb string, disable bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " USER DEVICE",
		Short: map[bool]string{true: "Disable a device: its codes are no longer accepted", false: "Enable a disabled device"}[disable],
		Args:  exactArgs("USER", "DEVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				if err := store.SetDeviceDisabled(cmd.Context(), c.actor(), name, args[1], disable); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "Device %q of user %q %sd.\n", args[1], name, verb)
				return nil
			})
		},
	}
}

func (c *cli) deviceRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove USER DEVICE",
		Short: "Remove a device",
		Args:  exactArgs("USER", "DEVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withUser(cmd, args[0], func(_ *config, store *sqlite.Store, name string) error {
				if err := store.RemoveDevice(cmd.Context(), c.actor(), name, args[1]); err != nil {
					return notFound(err)
				}
				fmt.Fprintf(c.stdout, "Device %q of user %q removed.\n", args[1], name)
				return nil
			})
		},
	}
}

// withUser loads the config, normalises the user name and opens the
// existing store for fn.
func (c *cli) withUser(cmd *cobra.Command, raw string, fn func(*config, *sqlite.Store, string) error) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	name, err := normalize(cfg, raw)
	if err != nil {
		return err
	}
	store, err := c.openStore(cmd.Context(), cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(cfg, store, name)
}
