package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin"
)

// pluginCommand is "radmfa plugin NAME": radmfa serve starts it to run a
// built-in notifier through the same go-plugin interface as third-party
// ones. Standard output carries the go-plugin handshake; the notifier logs
// to standard error, which serve copies into its own log.
func (c *cli) pluginCommand() *cobra.Command {
	var list strings.Builder
	for _, name := range builtin.Names() {
		fmt.Fprintf(&list, "  %-8s %s\n           settings: %s\n", name, builtin.Describe(name), builtin.SettingsKeys(name))
	}
	return &cobra.Command{
		Use:   "plugin NAME",
		Short: "Serve a built-in notifier to radmfa serve (started by radmfa itself)",
		Long: `plugin serves the built-in notifier NAME over the notifier plugin protocol
(hashicorp/go-plugin, gRPC). radmfa starts it for each [notifiers.X] section
with builtin = "NAME" and passes it the section's settings: radmfa serve at
start-up, radmfa exec and ntlm-auth only when a request sends a code. It is
not meant to be run by hand. Standard output carries the plugin handshake.
The README's "Built-in notifiers" section explains each setting.

Built-in notifiers:
` + list.String(),
		Example: `  # radmfa.toml
  [notifiers.phone]
  builtin = "ntfy"
  [notifiers.phone.settings]
  topic = "radmfa-k3x9q2"`,
		Args: exactArgs("NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			if builtin.Describe(name) == "" {
				return usagef("no built-in notifier %q: want one of %s", name, strings.Join(builtin.Names(), ", "))
			}
			if !plugin.StartedByHost() {
				return usagef("radmfa plugin %s is started by radmfa serve for a notifier with builtin = %q, not by hand", name, name)
			}
			n, err := builtin.New(name, plugin.NewLogger(c.stderr, slog.LevelDebug).With("notifier", name))
			if err != nil {
				return err
			}
			plugin.Serve(n)
			return nil
		},
	}
}
