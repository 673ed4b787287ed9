// Package plugin is radmfa's public SDK for notifier plugins: the programs
// that deliver push approvals, one-time codes (SMS, e-mail) and alerts for
// radmfa serve.
//
// A plugin implements [Notifier] with two RPCs of the shape
// (ctx, *XRequest) (*XResponse, error):
//
//   - Configure receives the plugin's settings from radmfa's config file,
//     once at start and again after every restart;
//   - Notify delivers one message of a [Kind] (push, code or alert) and
//     reports its [Status] (sent, queued or failed).
//
// and calls [Serve] from its main function. radmfa starts the program
// through hashicorp/go-plugin over gRPC, checks its SHA-256 checksum
// against the config first, restarts it when it crashes and copies what it
// logs (see [Logger]) into radmfa's own log. The built-in notifiers in
// plugin/builtin use exactly this interface; radmfa serves them itself
// ("radmfa plugin ntfy").
//
// Secrets: the approval URL of a push and the one-time code of a code
// message are [Secret] values, which print as "[redacted]" with every fmt
// verb, in JSON and in slog. Call Reveal only where the value is
// delivered, and never log what it returns.
//
// The generated protobuf code is internal (plugin/internal/pb); plugin
// authors use only the types of this package. [ProtocolVersion] changes on
// every breaking change of the wire protocol.
//
// Importing this package does no work at start-up beyond what the
// protobuf and gRPC libraries do: nothing runs until Serve is called.
package plugin
