// Command benchtool measures radmfa against baselines taken in the same run
// and prints ratios (SPEC §10). scripts/bench builds radmfa and runs it;
// each case is bounded in time and uses loopback only.
//
//	benchtool -radmfa bin/radmfa core
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// options are the command-line settings every case may use.
type options struct {
	bin string // radmfa binary
	n   int    // requests per exec case
}

// cases maps a case name to its function. Each case lives in its own file
// and registers itself in an init function.
var cases = map[string]func(options) error{}

func main() {
	var o options
	flag.StringVar(&o.bin, "radmfa", "bin/radmfa", "radmfa binary to measure")
	flag.IntVar(&o.n, "n", 300, "requests per exec case")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: benchtool [-radmfa PATH] [-n N] CASE\n\ncases:")
		for _, name := range slices.Sorted(maps.Keys(cases)) {
			fmt.Fprintf(os.Stderr, " %s", name)
		}
		fmt.Fprintf(os.Stderr, "\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	run, ok := cases[flag.Arg(0)]
	if flag.NArg() != 1 || !ok {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func init() { cases["core"] = func(o options) error { return core(o.bin, o.n) } }

// core measures the median wall time of one radmfa exec OTP decision
// against /bin/true, alternating the two so both see the same machine.
func core(bin string, n int) error {
	dir, err := os.MkdirTemp("", "radmfa-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "radmfa.db")
	secret := mfa.Secret("12345678901234567890")
	dev := mfa.Device{Name: "totp1", Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: secret}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: db}, sqlite.Options{Create: true})
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := store.CreateUser(ctx, "bench", fmt.Sprintf("u%d", i), dev); err != nil {
			return err
		}
	}
	store.Close()

	fmt.Printf("== core: radmfa exec vs /bin/true, %d runs each, alternating\n", n)
	var trueT, execT []time.Duration
	accepted := 0
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			return err
		}
		trueT = append(trueT, time.Since(start))

		code, err := mfa.Code(dev, mfa.Step(dev, time.Now()))
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "exec", "--db", db, "--client-name=bench")
		cmd.Env = []string{fmt.Sprintf(`USER_NAME="u%d"`, i), `USER_PASSWORD="` + code + `"`}
		start = time.Now()
		err = cmd.Run()
		execT = append(execT, time.Since(start))
		if err == nil {
			accepted++
		}
	}
	if accepted != n {
		return fmt.Errorf("only %d of %d OTP decisions were accepts", accepted, n)
	}
	mt, me := median(trueT), median(execT)
	fmt.Printf("/bin/true          median %7.2f ms  p90 %7.2f ms\n", ms(mt), ms(pct(trueT, 90)))
	fmt.Printf("radmfa exec (OTP)  median %7.2f ms  p90 %7.2f ms  (%d/%d accepted, events committed)\n", ms(me), ms(pct(execT, 90)), accepted, n)
	fmt.Printf("ratio exec/true    %.2fx  (target <= 6x, SPEC §10)\n", float64(me)/float64(mt))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
