package report

import (
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/forecast"
)

func cfdFigure(d *Data) Figure {
	c := d.CFD
	colors := statusColors(c.Statuses)
	t := Table{ID: "cfd-table", Caption: "Issues per status at the end of each day", Head: []string{"Day"}, Collapsed: true}
	// Columns along the flow: the reverse of the stacking order.
	for i := len(c.Statuses) - 1; i >= 0; i-- {
		t.Head = append(t.Head, c.Statuses[i].Name)
	}
	for j, dd := range c.Days {
		row := []string{dd.Format(time.DateOnly)}
		for i := len(c.Statuses) - 1; i >= 0; i-- {
			row = append(row, count(c.Counts[i][j]))
		}
		t.Rows = append(t.Rows, row)
	}
	f := Figure{ID: "cfd", Title: "Cumulative flow per day",
		Desc: fmt.Sprintf("Stacked area chart of the issues in each of %d statuses at the end of each of %d days, from %s to %s; final statuses at the bottom.",
			len(c.Statuses), len(c.Days), dateText(d.Options.From), dateText(d.Options.To)),
		Explain: "The height of each band is the number of issues in that status at the end of the day. Widening in-progress bands mean work starts faster than it finishes.",
		Tables:  []Table{t}}
	for i := len(c.Statuses) - 1; i >= 0; i-- {
		f.Legend = append(f.Legend, LegendItem{colors[c.Statuses[i].Key], c.Statuses[i].Name})
	}
	f.SVG = cfdSVG(f, c, colors)
	return f
}

// cfdSVG stacks one band per status, the first status at the bottom.
func cfdSVG(f Figure, c CFD, colors map[string]string) template.HTML {
	cv := newCanvas(f.ID, f.Title, f.Desc, chartW, chartH)
	if len(c.Days) == 0 || len(c.Statuses) == 0 {
		cv.empty("No data for this period")
		return cv.html()
	}
	tops := make([][]float64, len(c.Statuses)) // cumulative tops per status
	prev := make([]float64, len(c.Days))
	maxV := 0.0
	for i := range c.Statuses {
		tops[i] = make([]float64, len(c.Days))
		for j := range c.Days {
			tops[i][j] = prev[j] + float64(c.Counts[i][j])
			maxV = math.Max(maxV, tops[i][j])
		}
		prev = tops[i]
	}
	p := newPlot(cv, float64(max(len(c.Days)-1, 1)), maxV)
	p.yAxis("issues")
	zero := make([]float64, len(c.Days))
	for i, s := range c.Statuses {
		below := zero
		if i > 0 {
			below = tops[i-1]
		}
		cv.area(bandPoints(p, tops[i], below), colors[s.Key], s.Name)
	}
	every := max(1, len(c.Days)/12)
	for j, dd := range c.Days {
		if j%every == 0 {
			cv.rotated(p.x(float64(j)), p.top+p.hgt+12, dd.Format(time.DateOnly))
		}
	}
	return cv.html()
}

// bandPoints returns the polygon of a band: along its top left to right,
// back along its bottom. A single day is drawn as a thin bar.
func bandPoints(p *plot, top, below []float64) []float64 {
	xs := make([]float64, len(top))
	for j := range top {
		xs[j] = p.x(float64(j))
	}
	if len(top) == 1 {
		xs[0] = p.x(0.5)
		return []float64{xs[0] - 4, p.y(top[0]), xs[0] + 4, p.y(top[0]), xs[0] + 4, p.y(below[0]), xs[0] - 4, p.y(below[0])}
	}
	pts := make([]float64, 0, 4*len(top))
	for j := range top {
		pts = append(pts, xs[j], p.y(top[j]))
	}
	for j := len(top) - 1; j >= 0; j-- {
		pts = append(pts, xs[j], p.y(below[j]))
	}
	return pts
}

// timeFigure is the scatter of cycle or lead time against the done date,
// with lines at p50, p85 and p95.
func timeFigure(d *Data, id, name string, pc Percentiles, value func(DoneItem) (int64, bool)) Figure {
	f := Figure{ID: id, Title: capitalize(name) + " time of the issues done",
		Desc: fmt.Sprintf("Scatter chart of the %s time in days of %d issues done from %s to %s, against the day they were done, with lines at the 50th (%s days), 85th (%s days) and 95th (%s days) percentiles.",
			name, pc.N, dateText(d.Options.From), dateText(d.Options.To), days(pc.P50), days(pc.P85), days(pc.P95)),
		Explain: fmt.Sprintf("Each dot is an issue done in the period (cancelled ones left out). %s of the issues took at most the p85 line.", "85 %"),
	}
	pt := Table{ID: id + "-percentiles", Caption: capitalize(name) + " time percentiles (days)", Head: []string{"Issues", "p50", "p85", "p95"},
		Rows: [][]string{{count(pc.N), days(pc.P50), days(pc.P85), days(pc.P95)}}}
	it := Table{ID: id + "-issues", Caption: capitalize(name) + " time of every issue done", Head: []string{"Issue", "Done", name + " time (days)"}, Collapsed: true}
	c := newCanvas(f.ID, f.Title, f.Desc, chartW, chartH)
	span := d.Options.To.AddDate(0, 0, 1).Sub(d.Options.From).Seconds()
	maxV := pc.P95
	for _, it := range d.Done {
		if v, ok := value(it); ok {
			maxV = math.Max(maxV, float64(v))
		}
	}
	p := newPlot(c, span, maxV/secondsPerDay)
	if pc.N == 0 {
		c.empty("No issue done in this period")
	} else {
		p.yAxis(name + " time (days)")
		timeAxis(p, d.Options.From, d.Options.To)
	}
	for _, item := range d.Done {
		v, ok := value(item)
		if !ok {
			continue
		}
		it.Rows = append(it.Rows, []string{item.Key, dateText(item.DoneAt), days(float64(v))})
		c.circle(p.x(item.DoneAt.Sub(d.Options.From).Seconds()), p.y(float64(v)/secondsPerDay), 3.5, "#4e79a7",
			fmt.Sprintf("%s, done %s: %s days", item.Key, dateText(item.DoneAt), days(float64(v))))
	}
	if pc.N > 0 {
		p.refLine(pc.P50/secondsPerDay, "p50 "+days(pc.P50)+" d", "#59a14f")
		p.refLine(pc.P85/secondsPerDay, "p85 "+days(pc.P85)+" d", "#f28e2b")
		p.refLine(pc.P95/secondsPerDay, "p95 "+days(pc.P95)+" d", "#e15759")
	}
	f.SVG = c.html()
	f.Tables = []Table{pt, it}
	return f
}

// timeAxis labels the x axis of a time scatter with about eight dates.
func timeAxis(p *plot, from, to time.Time) {
	n := int(to.Sub(from).Hours()/24) + 1
	step := max(1, n/8)
	for i := 0; i < n; i += step {
		dd := from.AddDate(0, 0, i)
		p.c.rotated(p.x(dd.Sub(from).Seconds()), p.top+p.hgt+12, dd.Format(time.DateOnly))
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func timeInStatusFigure(d *Data) Figure {
	cal := series{name: "calendar time", color: "#4e79a7"}
	bus := series{name: "business time", color: "#f28e2b"}
	var labels []string
	t := Table{ID: "time-in-status-table", Caption: "Mean time in each status of the issues done (days)", Head: []string{"Status", "Type", "Issues", "Calendar", "Business"}}
	for _, s := range d.TimeInStatus {
		labels = append(labels, s.Name)
		cal.values = append(cal.values, s.MeanCalendar/secondsPerDay)
		bus.values = append(bus.values, s.MeanBus/secondsPerDay)
		t.Rows = append(t.Rows, []string{s.Name, s.Type, count(s.Issues), days(s.MeanCalendar), days(s.MeanBus)})
	}
	f := Figure{ID: "time-in-status", Title: "Time in status: calendar and business",
		Desc:    fmt.Sprintf("Grouped bar chart of the mean days spent in each of %d statuses by the issues done in the period, in calendar time and in business time.", len(d.TimeInStatus)),
		Explain: "For the issues done in the period, the mean time per visited status (final statuses left out). Business time counts only working hours of working days.",
		Legend:  []LegendItem{{cal.color, cal.name}, {bus.color, bus.name}}, Tables: []Table{t}}
	f.SVG = bars(f.ID, f.Title, f.Desc, "days", labels, []series{cal, bus})
	return f
}

// forecastFigure shows the "how many" forecasts of the scope as bars and
// every forecast in tables.
func forecastFigure(d *Data) Figure {
	p50 := series{name: "p50", color: "#59a14f"}
	p85 := series{name: "p85", color: "#f28e2b"}
	p95 := series{name: "p95", color: "#e15759"}
	var labels []string
	hm := Table{ID: "forecast-how-many", Caption: "How many issues will be done (at least, in that share of the trials)", Head: []string{"Scope", "Next weeks", "p50", "p85", "p95", "Note"}}
	wh := Table{ID: "forecast-when", Caption: "When will the open issues be done (by that date, in that share of the trials)", Head: []string{"Scope", "Open issues", "p50", "p85", "p95", "Note"}}
	var history []uint32
	var computed time.Time
	for _, r := range d.Forecasts {
		if r.Question == forecast.QuestionHowMany {
			labels = append(labels, fmt.Sprintf("%d weeks", r.HorizonWeeks))
			p50.values, p85.values, p95.values = append(p50.values, r.P50), append(p85.values, r.P85), append(p95.values, r.P95)
			hm.Rows = append(hm.Rows, []string{scopeText(r), fmt.Sprint(r.HorizonWeeks), trimFloat(r.P50), trimFloat(r.P85), trimFloat(r.P95), r.Note})
			history, computed = r.WeeklyThroughput, r.ComputedAt
			continue
		}
		wh.Rows = append(wh.Rows, []string{scopeText(r), fmt.Sprint(r.Remaining), dateText(r.DateP50), dateText(r.DateP85), dateText(r.DateP95), r.Note})
	}
	f := Figure{ID: "forecast", Title: "Forecasts (Monte Carlo)",
		Desc: fmt.Sprintf("Grouped bar chart of how many issues will be done in %d horizons, at the 50th, 85th and 95th percentiles of the trials; weekly throughput sampled %v, computed %s.",
			len(labels), history, dateText(computed)),
		Explain: "From the weekly throughput of the last weeks, thousands of possible futures are simulated. How many: p85 is the number of issues that 85 % of the futures reached or passed — the safer number to promise is the lower one. When: p85 is the date by which 85 % of the futures were done.",
		Legend:  []LegendItem{{p50.color, "p50"}, {p85.color, "p85"}, {p95.color, "p95"}},
		Tables:  []Table{hm, wh}}
	if len(d.Forecasts) == 0 {
		f.Explain += " No forecast is stored yet: run `tracker-exporter forecast`."
	}
	f.SVG = bars(f.ID, f.Title, f.Desc, "issues done", labels, []series{p50, p85, p95})
	return f
}

func scopeText(r clickhouse.ForecastRow) string {
	if r.ScopeKind == "all" {
		return "all queues"
	}
	return r.ScopeKind + " " + r.Scope
}
