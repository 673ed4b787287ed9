package metrics

import (
	"strings"
	"sync"
	"testing"
)

func TestWriteText(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("radmfa_decisions_total", "Decisions by result.", "result", "nas")
	h := r.NewHistogramVec("radmfa_decision_seconds", "Decision latency.", []float64{0.001, 0.01}, "door")
	r.NewGaugeFunc("radmfa_pending", "Pending \"things\"\nnow.", func() float64 { return 3 })
	c.Inc("accept", "vpn")
	c.Add(2, "reject", `we"ird\nas`)
	h.Observe(0.0005, "rest")
	h.Observe(0.005, "rest")
	h.Observe(2, "rest")
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP radmfa_decision_seconds Decision latency.
# TYPE radmfa_decision_seconds histogram
radmfa_decision_seconds_bucket{door="rest",le="0.001"} 1
radmfa_decision_seconds_bucket{door="rest",le="0.01"} 2
radmfa_decision_seconds_bucket{door="rest",le="+Inf"} 3
radmfa_decision_seconds_sum{door="rest"} 2.0055
radmfa_decision_seconds_count{door="rest"} 3
# HELP radmfa_decisions_total Decisions by result.
# TYPE radmfa_decisions_total counter
radmfa_decisions_total{result="accept",nas="vpn"} 1
radmfa_decisions_total{result="reject",nas="we\"ird\\nas"} 2
# HELP radmfa_pending Pending "things"\nnow.
# TYPE radmfa_pending gauge
radmfa_pending 3
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestConcurrentUse(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c_total", "c", "k")
	h := r.NewHistogramVec("h_seconds", "h", DefaultBuckets, "k")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.Inc("a")
				h.Observe(0.01, "a")
				if j%100 == 0 {
					r.WriteText(&strings.Builder{})
				}
			}
		}()
	}
	wg.Wait()
	if got := c.Value("a"); got != 8000 {
		t.Fatalf("counter %d, want 8000", got)
	}
}

func TestPanics(t *testing.T) {
	tests := map[string]func(){
		"duplicate name": func() {
			r := NewRegistry()
			r.NewCounterVec("x", "x")
			r.NewCounterVec("x", "x")
		},
		"wrong label count": func() { NewRegistry().NewCounterVec("x", "x", "a").Inc() },
		"unsorted buckets":  func() { NewRegistry().NewHistogramVec("h", "h", []float64{2, 1}) },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("want panic")
				}
			}()
			fn()
		})
	}
}
