// Package builtin lists the notifiers that radmfa serves itself, through
// the same plugin interface as third-party ones ("radmfa plugin NAME"):
//
//   - command: runs a program (an SMS gateway's CLI) with the notification
//     as JSON on standard input;
//   - ntfy: publishes to an ntfy server, with an approve button for
//     pushes;
//   - smtp: sends e-mail (codes, alerts, pushes with a link);
//   - webhook: POSTs JSON signed per the Standard Webhooks scheme.
//
// Each lives in its own package with its Config, defaults and docs.
package builtin

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin/command"
	"github.com/radmfa/radmfa/plugin/builtin/ntfy"
	"github.com/radmfa/radmfa/plugin/builtin/smtp"
	"github.com/radmfa/radmfa/plugin/builtin/webhook"
)

// Names returns the built-in notifiers' names, sorted.
func Names() []string {
	return []string{"command", "ntfy", "smtp", "webhook"}
}

// Describe returns a one-line description of the built-in called name, or
// "" if there is none.
func Describe(name string) string {
	switch name {
	case "command":
		return "run a program (e.g. an SMS gateway CLI) with the notification as JSON on stdin"
	case "ntfy":
		return "publish to an ntfy server, with an approve button for pushes"
	case "smtp":
		return "send e-mail: codes, alerts, pushes with the approval link"
	case "webhook":
		return "POST JSON signed per Standard Webhooks (webhook-id/-timestamp/-signature)"
	}
	return ""
}

// SettingsKeys lists the keys of the built-in's settings table
// ([notifiers.X.settings]), required ones marked, for --help; each
// package's documentation explains them.
func SettingsKeys(name string) string {
	switch name {
	case "command":
		return "path (required), args, env, timeout"
	case "ntfy":
		return "topic, server, token_file, priority, timeout"
	case "smtp":
		return "host (required), from (required), port, tls, to, username, password_file, ca_file, helo, timeout"
	case "webhook":
		return "url (required), secret_file (required), timeout"
	}
	return ""
}

// New returns the built-in notifier called name, logging to log.
func New(name string, log *slog.Logger) (plugin.Notifier, error) {
	switch name {
	case "command":
		return command.New(log), nil
	case "ntfy":
		return ntfy.New(log), nil
	case "smtp":
		return smtp.New(log), nil
	case "webhook":
		return webhook.New(log), nil
	}
	return nil, unknown(name)
}

// ValidateSettings checks a built-in's settings (a JSON object) without
// reading any file or starting anything: for check-config.
func ValidateSettings(name string, settings []byte) error {
	var err error
	switch name {
	case "command":
		_, err = command.ParseConfig(settings)
	case "ntfy":
		_, err = ntfy.ParseConfig(settings)
	case "smtp":
		_, err = smtp.ParseConfig(settings)
	case "webhook":
		_, err = webhook.ParseConfig(settings)
	default:
		err = unknown(name)
	}
	return err
}

func unknown(name string) error {
	return fmt.Errorf("no built-in notifier %q: want one of %s", name, strings.Join(Names(), ", "))
}
