// Package plugin will be radmfa's public SDK for notifier plugins: the
// programs that deliver push approvals, SMS and e-mail codes and alerts,
// run by radmfa serve through hashicorp/go-plugin. The same interface
// serves the built-in notifiers and third-party ones.
//
// It is empty until push approvals land; nothing in the OTP path uses it,
// which keeps radmfa exec free of plugin start-up cost.
package plugin
