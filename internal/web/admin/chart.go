package admin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/radmfa/radmfa/sqlite"
)

// chart is a stacked bar chart of outcomes over time, drawn as inline SVG
// by the template: coordinates are computed here, in a fixed viewBox that
// the page scales to any screen width.
type chart struct {
	Width, Height float64
	Top, Bottom   float64 // plot area
	Left, Right   float64
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	Label         string // for screen readers
	Empty         bool
}

type bar struct {
	X, W  float64
	Title string // tooltip: bucket and counts
	Segs  []seg
}

type seg struct {
	Y, H  float64
	Class string // success, failure, outer, challenge
}

type tick struct {
	Pos  float64
	Text string
}

// series are the stacked outcomes, bottom first.
var series = []struct {
	class string
	get   func(sqlite.SeriesPoint) int64
}{
	{"success", func(p sqlite.SeriesPoint) int64 { return p.Successes }},
	{"failure", func(p sqlite.SeriesPoint) int64 { return p.Failures }},
	{"outer", func(p sqlite.SeriesPoint) int64 { return p.OuterWindow }},
	{"challenge", func(p sqlite.SeriesPoint) int64 { return p.Challenges }},
}

func newChart(points []sqlite.SeriesPoint, step time.Duration) *chart {
	c := &chart{Width: 640, Height: 220, Top: 10, Bottom: 190, Left: 44, Right: 630}
	var maxTotal, total int64
	for _, p := range points {
		var t int64
		for _, s := range series {
			t += s.get(p)
		}
		maxTotal = max(maxTotal, t)
		total += t
	}
	layout, unit := "2006-01-02", "day"
	if step < 24*time.Hour {
		layout, unit = "01-02 15:04", "hour"
	}
	c.Label = fmt.Sprintf("Outcomes per %s: %d events in %d %ss", unit, total, len(points), unit)
	if len(points) == 0 || maxTotal == 0 {
		c.Empty = true
		return c
	}
	scale := (c.Bottom - c.Top) / float64(niceCeil(maxTotal))
	slot := (c.Right - c.Left) / float64(len(points))
	gap := min(slot*0.2, 2)
	for i, p := range points {
		b := bar{X: c.Left + float64(i)*slot + gap/2, W: slot - gap}
		b.Title = fmt.Sprintf("%s: %d successes, %d failures, %d outer window, %d challenges",
			p.Start.UTC().Format(layout), p.Successes, p.Failures, p.OuterWindow, p.Challenges)
		y := c.Bottom
		for _, s := range series {
			n := s.get(p)
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			b.Segs = append(b.Segs, seg{Y: y, H: h, Class: s.class})
		}
		c.Bars = append(c.Bars, b)
	}
	top := niceCeil(maxTotal)
	for _, v := range []int64{0, top / 2, top} {
		c.YTicks = append(c.YTicks, tick{Pos: c.Bottom - float64(v)*scale, Text: strconv.FormatInt(v, 10)})
	}
	// Up to five labels along the time axis.
	every := max(1, (len(points)+4)/5)
	for i := 0; i < len(points); i += every {
		c.XTicks = append(c.XTicks, tick{Pos: c.Left + (float64(i)+0.5)*slot, Text: points[i].Start.UTC().Format(layout)})
	}
	return c
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
