// Command benchtool measures radmfa against baselines taken in the same run
// and prints ratios (SPEC §10). scripts/bench builds radmfa and runs it;
// each case is bounded in time and uses loopback only.
//
//	benchtool -radmfa bin/radmfa core
//	benchtool -radmfa bin/radmfa report
//	benchtool -radmfa bin/radmfa push
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
