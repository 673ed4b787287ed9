// Package metrics is a small Prometheus instrumentation library: counters,
// gauges and histograms with labels, written in the Prometheus text
// exposition format (version 0.0.4).
//
// radmfa does not use prometheus/client_golang (or VictoriaMetrics/metrics):
// importing either costs 0.4–1.5 ms of package initialisation (runtime
// metrics descriptors, procfs, protobuf) in every process, and radmfa is
// one binary that FreeRADIUS starts once per request as "radmfa exec".
// This package does nothing until it is used.
package metrics

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metrics and writes them out.
type Registry struct {
	mu      sync.Mutex
	metrics []collector
	names   map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

type collector interface {
	name() string
	write(w io.Writer)
}

func (r *Registry) add(c collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[c.name()] {
		panic("metrics: duplicate metric " + c.name())
	}
	r.names[c.name()] = true
	r.metrics = append(r.metrics, c)
}

// WriteText writes every metric in the text exposition format, sorted by
// name.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	ms := slices.Clone(r.metrics)
	r.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].name() < ms[j].name() })
	bw := &errWriter{w: w}
	for _, m := range ms {
		m.write(bw)
	}
	return bw.err
}

// ContentType is the HTTP Content-Type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func header(w io.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// labelText renders {a="x",b="y"}, or "" without labels.
func labelText(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, n, escapeLabel(values[i]))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, extra[i], escapeLabel(extra[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// labelKey joins label values into a map key.
func labelKey(values []string) string { return strings.Join(values, "\xff") }

// vec is the label-set bookkeeping shared by the vector types.
type vec[T any] struct {
	mu     sync.RWMutex
	labels []string
	series map[string]*series[T]
	mk     func() *T
}

type series[T any] struct {
	values []string
	v      *T
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %d label values for %d labels", len(values), len(v.labels)))
	}
	k := labelKey(values)
	v.mu.RLock()
	s, ok := v.series[k]
	v.mu.RUnlock()
	if ok {
		return s.v
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.series[k]; ok {
		return s.v
	}
	s = &series[T]{values: slices.Clone(values), v: v.mk()}
	v.series[k] = s
	return s.v
}

func (v *vec[T]) each(fn func(values []string, t *T)) {
	v.mu.RLock()
	keys := make([]string, 0, len(v.series))
	for k := range v.series {
		keys = append(keys, k)
	}
	v.mu.RUnlock()
	sort.Strings(keys)
	for _, k := range keys {
		v.mu.RLock()
		s := v.series[k]
		v.mu.RUnlock()
		fn(s.values, s.v)
	}
}

// CounterVec is a family of counters partitioned by labels.
type CounterVec struct {
	n, help string
	v       vec[atomic.Uint64]
}

// NewCounterVec registers a counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{n: name, help: help, v: vec[atomic.Uint64]{labels: labels, series: map[string]*series[atomic.Uint64]{}, mk: func() *atomic.Uint64 { return new(atomic.Uint64) }}}
	r.add(c)
	return c
}

// Inc adds one to the counter with these label values.
func (c *CounterVec) Inc(values ...string) { c.v.with(values).Add(1) }

// Add adds n to the counter with these label values.
func (c *CounterVec) Add(n uint64, values ...string) { c.v.with(values).Add(n) }

// Value returns the counter with these label values.
func (c *CounterVec) Value(values ...string) uint64 { return c.v.with(values).Load() }

func (c *CounterVec) name() string { return c.n }

func (c *CounterVec) write(w io.Writer) {
	header(w, c.n, c.help, "counter")
	c.v.each(func(values []string, v *atomic.Uint64) {
		fmt.Fprintf(w, "%s%s %d\n", c.n, labelText(c.v.labels, values), v.Load())
	})
}

// GaugeFunc is a gauge whose value is read when metrics are written.
type GaugeFunc struct {
	n, help string
	fn      func() float64
}

// NewGaugeFunc registers a gauge computed by fn at scrape time.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) *GaugeFunc {
	g := &GaugeFunc{n: name, help: help, fn: fn}
	r.add(g)
	return g
}

func (g *GaugeFunc) name() string { return g.n }

func (g *GaugeFunc) write(w io.Writer) {
	header(w, g.n, g.help, "gauge")
	fmt.Fprintf(w, "%s %s\n", g.n, formatFloat(g.fn()))
}

// HistogramVec is a family of histograms partitioned by labels.
type HistogramVec struct {
	n, help string
	buckets []float64
	v       vec[histogram]
}

type histogram struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	count  uint64
}

// DefaultBuckets suit request latencies in seconds, from 0.5 ms to 30 s.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// NewHistogramVec registers a histogram family with the bucket upper bounds
// (ascending; +Inf is implied).
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if !slices.IsSorted(buckets) {
		panic("metrics: buckets must be ascending")
	}
	h := &HistogramVec{n: name, help: help, buckets: slices.Clone(buckets)}
	h.v = vec[histogram]{labels: labels, series: map[string]*series[histogram]{}, mk: func() *histogram {
		return &histogram{counts: make([]uint64, len(buckets)+1)}
	}}
	r.add(h)
	return h
}

// Observe records one value in the histogram with these label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	s := h.v.with(values)
	i := sort.SearchFloat64s(h.buckets, v) // first bound >= v
	s.mu.Lock()
	s.counts[i]++
	s.sum += v
	s.count++
	s.mu.Unlock()
}

func (h *HistogramVec) name() string { return h.n }

func (h *HistogramVec) write(w io.Writer) {
	header(w, h.n, h.help, "histogram")
	h.v.each(func(values []string, s *histogram) {
		s.mu.Lock()
		counts := slices.Clone(s.counts)
		sum, count := s.sum, s.count
		s.mu.Unlock()
		var cum uint64
		for i, b := range h.buckets {
			cum += counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.n, labelText(h.v.labels, values, "le", formatFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.n, labelText(h.v.labels, values, "le", "+Inf"), count)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.n, labelText(h.v.labels, values), formatFloat(sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.n, labelText(h.v.labels, values), count)
	})
}
