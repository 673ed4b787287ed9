package enroll

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrSVG draws the QR code of text as inline SVG: the dark modules as one
// path, with a 4-module quiet zone. Its markup holds only numbers, so it
// is safe to insert unescaped; text itself never appears in it.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("enroll: QR code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx() + 8
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="QR code">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
	dark := func(x, y int) bool { r, _, _, _ := code.At(x, y).RGBA(); return r == 0 }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !dark(x, y) {
				continue
			}
			run := 1 // draw a row's dark run as one rectangle
			for x+run < b.Max.X && dark(x+run, y) {
				run++
			}
			fmt.Fprintf(&s, "M%d %dh%dv1h-%dz", x-b.Min.X+4, y-b.Min.Y+4, run, run)
			x += run - 1
		}
	}
	s.WriteString(`"/></svg>`)
	return template.HTML(s.String()), nil
}
