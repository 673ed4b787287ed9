// Command radmfa is a second-factor sidecar for RADIUS servers: FreeRADIUS
// hands it the passcode a user typed, and radmfa verifies OTPs, interprets
// passcode triggers, answers Access-Challenge flows and records every step
// in an SQLite event log.
//
// Build it with: go build -o bin/radmfa ./exec
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
