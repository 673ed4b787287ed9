// Package pb holds the generated protobuf and gRPC code of radmfa's
// notifier plugin protocol (notifier.proto). It is internal: plugin
// authors use the hand-written types of package plugin, which convert to
// and from these messages. Regenerate with scripts/genproto.sh.
package pb
