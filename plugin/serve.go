package plugin

import (
	"io"
	"log/slog"
	"os"
	"strings"

	goplugin "github.com/hashicorp/go-plugin"
)

// Serve serves impl to radmfa over go-plugin and returns when radmfa
// closes the connection. Call it from main, after Logger if the plugin
// logs. Standard output belongs to the go-plugin handshake: never write to
// it. A program that was not started by radmfa gets a message and exit
// status 1 (see StartedByHost).
func Serve(impl Notifier) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}

// Logger returns a logger whose records reach radmfa's log: it writes JSON
// lines to standard error in the format go-plugin's host reads (hclog's),
// and radmfa copies them into its own log with the plugin's name.
// Secret values log as "[redacted]"; never log what Reveal returns.
//
// Call it before Serve: Serve redirects os.Stderr, and a logger made
// afterwards writes to that redirected stream (which radmfa also reads,
// but line by line without levels).
func Logger() *slog.Logger {
	return NewLogger(os.Stderr, slog.LevelDebug)
}

// NewLogger is Logger writing to w at level and above (tests use it).
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: hclogAttr,
	}))
}

// hclogAttr renames slog's built-in keys to hclog's JSON format, which
// go-plugin parses on the host side.
func hclogAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
	case slog.LevelKey:
		l, _ := a.Value.Any().(slog.Level)
		return slog.String("@level", hclogLevel(l))
	case slog.MessageKey:
		return slog.String("@message", a.Value.String())
	}
	if strings.HasPrefix(a.Key, "@") {
		a.Key = "_" + a.Key[1:]
	}
	return a
}

func hclogLevel(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
