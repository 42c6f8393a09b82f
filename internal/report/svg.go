package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// canvas builds one inline SVG chart. Every text it writes is escaped.
// Data marks carry the class "mark" (the browser test counts them) and a
// <title> child, shown as a tooltip.
type canvas struct {
	b    strings.Builder
	w, h float64
}

// Size of every chart, in SVG units (it scales to the page width).
const (
	chartW = 760.0
	chartH = 330.0
)

// Margins of the plot area inside a chart.
const (
	marginLeft   = 56.0
	marginRight  = 16.0
	marginTop    = 16.0
	marginBottom = 78.0
)

// newCanvas opens an <svg> with its accessible name and description: a
// <title> and a <desc> the svg points at with aria-labelledby and
// aria-describedby.
func newCanvas(id, title, desc string, w, h float64) *canvas {
	c := &canvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" width="100%%" role="img" aria-labelledby="%s-title" aria-describedby="%s-desc" data-chart-svg="%s">`,
		num(w), num(h), esc(id), esc(id), esc(id))
	fmt.Fprintf(&c.b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
	return c
}

// html closes the svg and returns it.
func (c *canvas) html() template.HTML {
	c.b.WriteString("</svg>")
	return template.HTML(c.b.String()) // #nosec G203 -- built here, every text escaped
}

func (c *canvas) rect(class string, x, y, w, h float64, fill, tip string) {
	fmt.Fprintf(&c.b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s">%s</rect>`,
		class, num(x), num(y), num(math.Max(w, 0)), num(math.Max(h, 0)), fill, tipTitle(tip))
}

func (c *canvas) circle(x, y, r float64, fill, tip string) {
	fmt.Fprintf(&c.b, `<circle class="mark" cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.75">%s</circle>`,
		num(x), num(y), num(r), fill, tipTitle(tip))
}

func (c *canvas) line(class string, x1, y1, x2, y2 float64, stroke string, dash bool) {
	extra := ""
	if dash {
		extra = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(&c.b, `<line class="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5"%s/>`,
		class, num(x1), num(y1), num(x2), num(y2), stroke, extra)
}

// area draws a closed polygon through points (x, y pairs).
func (c *canvas) area(points []float64, fill, tip string) {
	var d strings.Builder
	for i := 0; i+1 < len(points); i += 2 {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&d, "%s%s %s ", cmd, num(points[i]), num(points[i+1]))
	}
	d.WriteString("Z")
	fmt.Fprintf(&c.b, `<path class="mark" d="%s" fill="%s" stroke="#ffffff" stroke-width="0.5">%s</path>`, d.String(), fill, tipTitle(tip))
}

// text writes a label; anchor is start, middle or end.
func (c *canvas) text(x, y float64, anchor, s string) {
	fmt.Fprintf(&c.b, `<text x="%s" y="%s" text-anchor="%s" font-size="11" fill="#333333">%s</text>`, num(x), num(y), anchor, esc(s))
}

// rotated writes a label turned by -45° (long x-axis labels).
func (c *canvas) rotated(x, y float64, s string) {
	fmt.Fprintf(&c.b, `<text x="%s" y="%s" text-anchor="end" font-size="10" fill="#333333" transform="rotate(-45 %s %s)">%s</text>`,
		num(x), num(y), num(x), num(y), esc(s))
}

// empty writes the message of a chart without data.
func (c *canvas) empty(msg string) {
	fmt.Fprintf(&c.b, `<text class="empty" x="%s" y="%s" text-anchor="middle" font-size="14" fill="#666666">%s</text>`,
		num(c.w/2), num(c.h/2), esc(msg))
}

func tipTitle(tip string) string {
	if tip == "" {
		return ""
	}
	return "<title>" + esc(tip) + "</title>"
}

func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// plot maps data to the plot area of a canvas: x in [0, xMax], y in
// [0, yMax] with y growing upwards.
type plot struct {
	c          *canvas
	left, top  float64
	width, hgt float64
	xMax, yMax float64
}

func newPlot(c *canvas, xMax, yMax float64) *plot {
	return &plot{c: c, left: marginLeft, top: marginTop, width: c.w - marginLeft - marginRight,
		hgt: c.h - marginTop - marginBottom, xMax: math.Max(xMax, 1e-9), yMax: math.Max(yMax, 1e-9)}
}

func (p *plot) x(v float64) float64 { return p.left + v/p.xMax*p.width }
func (p *plot) y(v float64) float64 { return p.top + p.hgt - v/p.yMax*p.hgt }

// yAxis draws the value axis with about five round ticks and grid lines,
// and sets yMax to the last tick.
func (p *plot) yAxis(label string) {
	step := niceStep(p.yMax)
	p.yMax = math.Max(step*math.Ceil(p.yMax/step), step)
	for v := 0.0; v <= p.yMax+step/2; v += step {
		y := p.y(v)
		p.c.line("grid", p.left, y, p.left+p.width, y, "#e3e3e3", false)
		p.c.text(p.left-6, y+4, "end", trimFloat(v))
	}
	fmt.Fprintf(&p.c.b, `<text x="14" y="%s" text-anchor="middle" font-size="11" fill="#333333" transform="rotate(-90 14 %s)">%s</text>`,
		num(p.top+p.hgt/2), num(p.top+p.hgt/2), esc(label))
	p.c.line("axis", p.left, p.top+p.hgt, p.left+p.width, p.top+p.hgt, "#888888", false)
}

// refLine draws a horizontal reference line at v with a label at the right.
func (p *plot) refLine(v float64, label, stroke string) {
	if v > p.yMax {
		return
	}
	y := p.y(v)
	p.c.line("ref", p.left, y, p.left+p.width, y, stroke, true)
	p.c.text(p.left+p.width-2, y-4, "end", label)
}

// niceStep returns a round tick step (1, 2 or 5 × 10^k) giving at most
// about five ticks up to max.
func niceStep(max float64) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return math.Max(m*mag, 1e-9)
		}
	}
	return 10 * mag
}

// trimFloat prints a tick value without useless decimals.
func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// palette colours series; by status type first (statusColor), then here.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b"}

// typeColors are the base colours of the status types.
var typeColors = map[string][]string{
	"new":        {"#a0a0a0", "#c0c0c0", "#808080"},
	"inProgress": {"#4e79a7", "#76b7b2", "#1f77b4", "#a0cbe8"},
	"paused":     {"#f28e2b", "#edc948", "#ffbe7d"},
	"done":       {"#59a14f", "#8cd17d", "#3b7a33"},
	"cancelled":  {"#6b6b6b", "#505050"},
}

// statusColors assigns a colour to each status: shades of its type's
// colour, the palette for statuses without a known type.
func statusColors(statuses []statusRef) map[string]string {
	out := map[string]string{}
	used := map[string]int{}
	other := 0
	for _, s := range statuses {
		shades, ok := typeColors[s.Type]
		if !ok {
			out[s.Key] = palette[other%len(palette)]
			other++
			continue
		}
		out[s.Key] = shades[used[s.Type]%len(shades)]
		used[s.Type]++
	}
	return out
}
