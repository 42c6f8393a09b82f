package report

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"strconv"
	"time"
)

// Figure is one chart of the report with the tables of its numbers.
type Figure struct {
	// ID is the chart's anchor and the prefix of its ids.
	ID, Title string
	// Desc describes the chart in words (the SVG's <desc>).
	Desc string
	// Explain says how to read it.
	Explain string
	SVG     template.HTML
	Legend  []LegendItem
	Tables  []Table
}

// LegendItem is one series' colour and name.
type LegendItem struct {
	Color, Name string
}

// Table holds the numbers of a chart.
type Table struct {
	ID, Caption string
	Head        []string
	Rows        [][]string
	// Collapsed tables (long lists) are inside a <details> element.
	Collapsed bool
}

const secondsPerDay = 86400.0

// days formats seconds as days with one decimal.
func days(seconds float64) string { return strconv.FormatFloat(seconds/secondsPerDay, 'f', 1, 64) }

func dateText(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

func count(n uint64) string { return strconv.FormatUint(n, 10) }

// series is one set of values of a bar chart.
type series struct {
	name, color string
	values      []float64
}

// bars draws grouped vertical bars: one group per label, one bar per
// series.
func bars(id, title, desc, yLabel string, labels []string, ss []series) template.HTML {
	c := newCanvas(id, title, desc, chartW, chartH)
	maxV := 0.0
	for _, s := range ss {
		for _, v := range s.values {
			maxV = math.Max(maxV, v)
		}
	}
	if len(labels) == 0 {
		c.empty("No data for this period")
		return c.html()
	}
	p := newPlot(c, float64(len(labels)), maxV)
	p.yAxis(yLabel)
	slot := p.width / float64(len(labels))
	barW := slot * 0.8 / float64(len(ss))
	every := max(1, len(labels)/16)
	for i, l := range labels {
		for k, s := range ss {
			x := p.x(float64(i)) + slot*0.1 + float64(k)*barW
			v := s.values[i]
			c.rect("mark", x, p.y(v), barW, p.y(0)-p.y(v), s.color, fmt.Sprintf("%s — %s: %s", l, s.name, trimFloat(v)))
		}
		if i%every == 0 {
			c.rotated(p.x(float64(i))+slot/2, p.top+p.hgt+12, l)
		}
	}
	return c.html()
}

func throughputFigure(d *Data) Figure {
	var labels []string
	done := series{name: "done", color: "#59a14f"}
	cancelled := series{name: "cancelled", color: "#a0a0a0"}
	t := Table{ID: "throughput-table", Caption: "Issues done per week", Head: []string{"Week (Monday)", "Done", "Cancelled"}}
	var total uint64
	best := WeekCount{}
	for _, w := range d.Throughput {
		labels = append(labels, w.Week.Format(time.DateOnly))
		done.values = append(done.values, float64(w.Done))
		cancelled.values = append(cancelled.values, float64(w.Cancelled))
		t.Rows = append(t.Rows, []string{w.Week.Format(time.DateOnly), count(w.Done), count(w.Cancelled)})
		total += w.Done
		if w.Done > best.Done {
			best = w
		}
	}
	desc := fmt.Sprintf("Bar chart of the issues done (and cancelled) in each of %d weeks: %d done in all, %.1f a week on average",
		len(d.Throughput), total, float64(total)/math.Max(float64(len(d.Throughput)), 1))
	if best.Done > 0 {
		desc += fmt.Sprintf(", most in the week of %s (%d)", best.Week.Format(time.DateOnly), best.Done)
	}
	f := Figure{ID: "throughput", Title: "Throughput per week", Desc: desc + ".",
		Explain: "Issues that reached a final status in each week (Monday to Sunday, UTC) and are still there; cancelled issues are counted apart.",
		Legend:  []LegendItem{{done.color, done.name}, {cancelled.color, cancelled.name}}, Tables: []Table{t}}
	f.SVG = bars(f.ID, f.Title, f.Desc, "issues", labels, []series{done, cancelled})
	return f
}

func wipFigure(d *Data) Figure {
	var labels []string
	var total uint64
	refs := make([]statusRef, len(d.WIP))
	for i, s := range d.WIP {
		refs[i] = s.statusRef
	}
	colors := statusColors(refs)
	s := series{name: "issues", color: "#4e79a7"}
	t := Table{ID: "wip-table", Caption: "Work in progress per status", Head: []string{"Status", "Type", "WIP", "Oldest start"}}
	for _, w := range d.WIP {
		labels = append(labels, w.Name)
		s.values = append(s.values, float64(w.Count))
		t.Rows = append(t.Rows, []string{w.Name, w.Type, count(w.Count), dateText(w.OldestStarted)})
		total += w.Count
	}
	f := Figure{ID: "wip", Title: "Work in progress per status",
		Desc:    fmt.Sprintf("Bar chart of the %d started issues that are not done, in %d statuses.", total, len(d.WIP)),
		Explain: "Issues that have entered an in-progress status and are not in a final one, by their current status, now.",
		Tables:  []Table{t}}
	c := newCanvas(f.ID, f.Title, f.Desc, chartW, chartH)
	if len(d.WIP) == 0 {
		c.empty("No work in progress")
		f.SVG = c.html()
		return f
	}
	p := newPlot(c, float64(len(labels)), slicesMax(s.values))
	p.yAxis("issues")
	slot := p.width / float64(len(labels))
	for i, w := range d.WIP {
		v := float64(w.Count)
		c.rect("mark", p.x(float64(i))+slot*0.15, p.y(v), slot*0.7, p.y(0)-p.y(v), colors[w.Key], fmt.Sprintf("%s: %d", w.Name, w.Count))
		c.rotated(p.x(float64(i))+slot/2, p.top+p.hgt+12, w.Name)
	}
	f.SVG = c.html()
	return f
}

func slicesMax(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// jitter spreads the points of one column deterministically, by key.
func jitter(key string) float64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return float64(h.Sum32()%1000)/1000 - 0.5
}

func ageingFigure(d *Data) Figure {
	cols, colors := ageingColumns(d)
	t := Table{ID: "ageing-table", Caption: "Age of every issue in progress", Head: []string{"Issue", "Status", "Started", "Age (days)", "In status (days)"}, Collapsed: len(d.Ageing) > 15}
	maxAge := d.Cycle.P85
	for _, a := range d.Ageing {
		t.Rows = append(t.Rows, []string{a.Key, a.Name, dateText(a.Started), days(float64(a.Age)), days(float64(a.StatusAge))})
		maxAge = math.Max(maxAge, float64(a.Age))
	}
	desc := fmt.Sprintf("Scatter chart of the age in days of %d issues in progress, one column per current status", len(d.Ageing))
	if d.Cycle.N > 0 {
		above := 0
		for _, a := range d.Ageing {
			if float64(a.Age) > d.Cycle.P85 {
				above++
			}
		}
		desc += fmt.Sprintf(", with the 85th percentile of cycle time (%s days) as a line: %d issues are older", days(d.Cycle.P85), above)
	}
	f := Figure{ID: "ageing", Title: "Ageing work in progress", Desc: desc + ".",
		Explain: "Each dot is an issue in progress: how long since it started. The dashed line is the 85th percentile of the cycle time of the issues done in the period: a dot above it is older than 85 % of finished work.",
		Tables:  []Table{t}}
	c := newCanvas(f.ID, f.Title, f.Desc, chartW, chartH)
	if len(d.Ageing) == 0 {
		c.empty("No work in progress")
		f.SVG = c.html()
		return f
	}
	p := newPlot(c, float64(len(cols)), maxAge/secondsPerDay)
	p.yAxis("age (days)")
	slot := p.width / float64(len(cols))
	index := map[string]int{}
	for i, s := range cols {
		index[s.Key] = i
		c.rotated(p.x(float64(i))+slot/2, p.top+p.hgt+12, s.Name)
		f.Legend = append(f.Legend, LegendItem{colors[s.Key], s.Name})
	}
	for _, a := range d.Ageing {
		x := p.x(float64(index[a.statusRef.Key])+0.5) + jitter(a.Key)*slot*0.6
		c.circle(x, p.y(float64(a.Age)/secondsPerDay), 4, colors[a.statusRef.Key], fmt.Sprintf("%s (%s): %s days", a.Key, a.Name, days(float64(a.Age))))
	}
	if d.Cycle.N > 0 {
		p.refLine(d.Cycle.P85/secondsPerDay, "cycle time p85 "+days(d.Cycle.P85)+" d", "#e15759")
	}
	f.SVG = c.html()
	return f
}

// ageingColumns returns the statuses of the issues in progress, along the
// flow, and their colours.
func ageingColumns(d *Data) ([]statusRef, map[string]string) {
	seen := map[string]bool{}
	var cols []statusRef
	for _, w := range d.WIP {
		if !seen[w.Key] {
			seen[w.Key] = true
			cols = append(cols, w.statusRef)
		}
	}
	for _, a := range d.Ageing {
		if !seen[a.statusRef.Key] {
			seen[a.statusRef.Key] = true
			cols = append(cols, a.statusRef)
		}
	}
	return cols, statusColors(cols)
}
