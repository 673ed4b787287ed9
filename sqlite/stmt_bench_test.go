package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/radmfa/radmfa/internal/mfa"
)

func BenchmarkTxStatements(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(b.TempDir(), "radmfa.db")}, Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100000
	names, devs := make([]string, n), make([]mfa.Device, n)
	for i := range names {
		names[i], devs[i] = fmt.Sprintf("d%d", i), testDevice("totp1")
	}
	if err := s.ImportUsers(ctx, "bench", names, devs); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"lookup", "devices", "event", "usestep"} {
		b.Run(q, func(b *testing.B) {
			i := 0
			s.Update(ctx, func(tx mfa.Tx) error {
				for b.Loop() {
					i++
					name := names[(i*7919)%n]
					switch q {
					case "lookup":
						tx.LookupUser(ctx, name)
					case "devices":
						tx.Devices(ctx, int64((i*7919)%n+1))
					case "event":
						tx.AddEvent(ctx, mfa.Event{TxID: "x", User: name, Result: mfa.ResultSuccess, FrontDoor: mfa.FrontDoorREST})
					case "usestep":
						tx.UseStep(ctx, int64((i*7919)%n+1), int64(i))
					}
				}
				return nil
			})
		})
	}
}
