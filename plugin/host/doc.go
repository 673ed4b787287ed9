// Package host runs notifier plugins for radmfa serve: it starts a plugin
// process through hashicorp/go-plugin (gRPC), verifies an external binary's
// SHA-256 checksum before starting it, configures it, restarts it when it
// crashes (and configures it again), copies its logs into radmfa's zerolog
// log without secrets, and bounds every notification by a timeout.
//
// A *Notifier implements mfa.Notifier. Its life is explicit:
//
//	n, err := host.New("phone", cfg, host.Options{Logger: log})
//	err = n.Start(ctx)            // starts the process; nothing runs before
//	d, err := n.Notify(ctx, note) // any number of times, concurrently
//	n.Close()                     // stops the process and every goroutine
//
// A Group does the same for every section of the [notifiers] table: it
// checks them all, starts all or none, and closes them together.
//
// Built-in notifiers (Config.Builtin) run as "radmfa plugin NAME", started
// from the running radmfa binary itself (no checksum needed); external ones
// (Config.Path) must have Config.SHA256.
package host
