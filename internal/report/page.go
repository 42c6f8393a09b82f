package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed page.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

// page is what the template sees.
type page struct {
	Title     string
	Scope     string
	Database  string
	From, To  string
	Generated string
	Glance    []glanceItem
	Figures   []Figure
}

// glanceItem is one headline number of the report.
type glanceItem struct {
	Label, Value string
}

// Figures returns the report's charts, in page order.
func Figures(d *Data) []Figure {
	return []Figure{
		throughputFigure(d),
		wipFigure(d),
		ageingFigure(d),
		cfdFigure(d),
		timeFigure(d, "cycle-time", "cycle", d.Cycle, func(it DoneItem) (int64, bool) {
			if it.CycleTime == nil {
				return 0, false
			}
			return *it.CycleTime, true
		}),
		timeFigure(d, "lead-time", "lead", d.Lead, func(it DoneItem) (int64, bool) { return it.LeadTime, true }),
		timeInStatusFigure(d),
		forecastFigure(d),
	}
}

// Render writes the report of d as one HTML document.
func Render(w io.Writer, d *Data) error {
	scope := "all queues"
	if d.Options.Queue != "" {
		scope = "queue " + d.Options.Queue
	}
	p := page{
		Title:     "Flow report — " + scope,
		Scope:     scope,
		Database:  d.Database,
		From:      dateText(d.Options.From),
		To:        dateText(d.Options.To),
		Generated: d.Options.Now.UTC().Format(time.RFC3339),
		Glance:    glance(d),
		Figures:   Figures(d),
	}
	return pageTemplate.Execute(w, p)
}

// glance returns the headline numbers.
func glance(d *Data) []glanceItem {
	var done uint64
	for _, w := range d.Throughput {
		done += w.Done
	}
	var wip uint64
	for _, s := range d.WIP {
		wip += s.Count
	}
	perWeek := float64(done) / float64(max(len(d.Throughput), 1))
	items := []glanceItem{
		{"Done in the period", fmt.Sprintf("%d (%.1f a week)", done, perWeek)},
		{"Work in progress now", fmt.Sprint(wip)},
		{"Cycle time p85", days(d.Cycle.P85) + " days"},
		{"Lead time p85", days(d.Lead.P85) + " days"},
	}
	for _, r := range d.Forecasts {
		if r.Question == "when" && r.ScopeKind != "epic" && r.Note == "" {
			items = append(items, glanceItem{fmt.Sprintf("%d open issues done by (p85)", r.Remaining), dateText(r.DateP85)})
		}
	}
	return items
}
