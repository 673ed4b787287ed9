package plugin

import (
	"os"

	goplugin "github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the version of the notifier protocol. It changes on
// every change that an older host or plugin cannot understand; radmfa
// refuses a plugin built for another version with a message saying so.
const ProtocolVersion = 1

// The magic cookie tells a plugin binary that radmfa started it. It is not
// a security measure: the host verifies plugin binaries by checksum.
const (
	MagicCookieKey   = "RADMFA_PLUGIN"
	MagicCookieValue = "notifier-7d1c2f0e9b4a"
)

// PluginName is the name radmfa dispenses the notifier under.
const PluginName = "notifier"

// Handshake is the go-plugin handshake that host and plugin share.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// StartedByHost says whether radmfa started this process as a plugin
// (the handshake's magic cookie is in the environment). Programs that are
// also run by hand use it to print usage instead of serving.
func StartedByHost() bool {
	return os.Getenv(MagicCookieKey) == MagicCookieValue
}
