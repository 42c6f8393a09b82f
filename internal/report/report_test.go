package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
)

var now = time.Date(2026, 12, 9, 10, 30, 0, 0, time.UTC)

func i64(v int64) *int64 { return &v }

// syntheticData is a report's worth of data without ClickHouse.
func syntheticData() *Data {
	o := Options{Queue: "DEV", Now: now}.withDefaults(now)
	d := &Data{Options: o, Database: "agile"}
	for i, wk := 0, monday(o.From); !wk.After(o.To); i, wk = i+1, wk.AddDate(0, 0, 7) {
		d.Throughput = append(d.Throughput, WeekCount{Week: wk, Done: uint64(i % 5), Cancelled: uint64(i % 2)})
	}
	open := statusRef{"open", "Open", "new"}
	inProgress := statusRef{"inProgress", "In progress", "inProgress"}
	review := statusRef{"review", "Review <&>", "inProgress"}
	closed := statusRef{"closed", "Closed", "done"}
	d.WIP = []StatusCount{{inProgress, 6, o.From}, {review, 3, o.From.AddDate(0, 0, 3)}}
	for i := range 9 {
		s := inProgress
		if i%3 == 0 {
			s = review
		}
		started := now.Add(-time.Duration(i+1) * 50 * time.Hour)
		d.Ageing = append(d.Ageing, AgeingItem{Key: fmt.Sprintf("DEV-%d", i), statusRef: s, Started: started, StatusSince: started,
			Age: int64(now.Sub(started) / time.Second), StatusAge: int64(now.Sub(started) / time.Second)})
	}
	statuses := map[string]statusRef{"open": open, "inProgress": inProgress, "closed": closed}
	d.CFD = buildCFD(o.From, o.To, statuses, func(add func(time.Time, string, uint64)) {
		for j := range 30 {
			dd := o.From.AddDate(0, 0, j)
			add(dd, "open", 10)
			add(dd, "inProgress", uint64(3+j%4))
			add(dd, "closed", uint64(j))
		}
	})
	for i := range 12 {
		it := DoneItem{Key: fmt.Sprintf("DEV-%d", 100+i), DoneAt: o.From.Add(time.Duration(i) * 100 * time.Hour), LeadTime: int64(i+2) * 86400}
		if i%4 != 0 {
			it.CycleTime = i64(int64(i) * 43200)
		}
		d.Done = append(d.Done, it)
	}
	d.Cycle = Percentiles{N: 9, P50: 216000, P85: 388800, P95: 475200}
	d.Lead = Percentiles{N: 12, P50: 691200, P85: 1036800, P95: 1123200}
	d.TimeInStatus = []StatusTime{{open, 12, 200000, 80000}, {inProgress, 9, 300000, 100000}}
	d.Forecasts = []clickhouse.ForecastRow{
		{ScopeKind: "queue", Scope: "DEV", Question: "how_many", HorizonWeeks: 2, P50: 5, P85: 3, P95: 2, WeeklyThroughput: []uint32{1, 2, 3}, ComputedAt: now},
		{ScopeKind: "queue", Scope: "DEV", Question: "how_many", HorizonWeeks: 4, P50: 10, P85: 7, P95: 5, WeeklyThroughput: []uint32{1, 2, 3}, ComputedAt: now},
		{ScopeKind: "queue", Scope: "DEV", Question: "when", Remaining: 9, DateP50: now.AddDate(0, 0, 20), DateP85: now.AddDate(0, 0, 30), DateP95: now.AddDate(0, 0, 40)},
		{ScopeKind: "epic", Scope: "DEV-1", Question: "when", Remaining: 3, Note: "no forecast: no throughput in the window"},
	}
	return d
}

func render(t *testing.T, d *Data) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var svgRE = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// figureIDs are the charts every report has.
var figureIDs = []string{"throughput", "wip", "ageing", "cfd", "cycle-time", "lead-time", "time-in-status", "forecast"}

func TestRenderHasEveryChartAccessible(t *testing.T) {
	page := render(t, syntheticData())
	svgs := svgRE.FindAllString(page, -1)
	if len(svgs) != len(figureIDs) {
		t.Fatalf("%d charts, want %d", len(svgs), len(figureIDs))
	}
	for i, id := range figureIDs {
		s := svgs[i]
		for _, want := range []string{
			`data-chart-svg="` + id + `"`, `role="img"`, `aria-labelledby="` + id + `-title"`, `aria-describedby="` + id + `-desc"`,
			`<title id="` + id + `-title">`, `<desc id="` + id + `-desc">`,
		} {
			if !strings.Contains(s, want) {
				t.Errorf("chart %s lacks %s", id, want)
			}
		}
		if n := strings.Count(s, `class="mark"`); n == 0 {
			t.Errorf("chart %s draws no mark", id)
		}
		if err := wellFormed(s); err != nil {
			t.Errorf("chart %s is not well-formed XML: %v", id, err)
		}
		if !strings.Contains(page, `<figure id="`+id+`" data-chart="`+id+`"`) {
			t.Errorf("no figure %s", id)
		}
	}
}

// wellFormed parses an SVG as XML.
func wellFormed(s string) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Opening the file loads nothing: no script, no external reference, a
// policy that forbids any request.
func TestRenderIsSelfContained(t *testing.T) {
	page := render(t, syntheticData())
	for _, banned := range []string{"<script", " src=", "<link rel=\"stylesheet\"", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("report contains %q", banned)
		}
	}
	if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`) {
		t.Error("no Content-Security-Policy forbidding requests")
	}
	urls := regexp.MustCompile(`https?://[^"' <]+`).FindAllString(page, -1)
	for _, u := range urls {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("report refers to %s", u)
		}
	}
}

func TestRenderEscapes(t *testing.T) {
	d := syntheticData()
	d.Ageing[0].Key = `<script>alert("x")</script>`
	page := render(t, d)
	if strings.Contains(page, "<script>") || strings.Contains(page, "Review <&>") {
		t.Error("a value was written unescaped")
	}
	if !strings.Contains(page, "Review &lt;&amp;&gt;") {
		t.Error("the escaped status name is missing")
	}
}

// The tables under the charts hold the data's numbers.
func TestRenderTables(t *testing.T) {
	d := syntheticData()
	page := render(t, d)
	for _, want := range []string{
		// cycle percentiles: 9 issues, 2.5 / 4.5 / 5.5 days
		`<th scope="row">9</th><td>2.5</td><td>4.5</td><td>5.5</td>`,
		// lead percentiles
		`<th scope="row">12</th><td>8.0</td><td>12.0</td><td>13.0</td>`,
		// WIP
		`<th scope="row">In progress</th><td>inProgress</td><td>6</td>`,
		// time in status
		`<th scope="row">Open</th><td>new</td><td>12</td><td>2.3</td><td>0.9</td>`,
		// forecasts
		`<th scope="row">queue DEV</th><td>4</td><td>10</td><td>7</td><td>5</td>`,
		`<th scope="row">queue DEV</th><td>9</td><td>2026-12-29</td><td>2027-01-08</td><td>2027-01-18</td>`,
		`<th scope="row">epic DEV-1</th><td>3</td><td>—</td><td>—</td><td>—</td><td>no forecast: no throughput in the window</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks the row %s", want)
		}
	}
	// One throughput row per week of the period: 12 weeks and this one.
	if n := strings.Count(tableOf(page, "throughput-table"), "<tr>") - 1; n != 13 {
		t.Errorf("throughput table has %d rows, want 13", n)
	}
}

func tableOf(page, id string) string {
	i := strings.Index(page, `<table id="`+id+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</table>")
	return page[i : i+j]
}

// A database without data still gives a page, with charts that say so.
func TestRenderEmpty(t *testing.T) {
	d := &Data{Options: Options{Now: now}.withDefaults(now)}
	d.CFD = buildCFD(d.Options.From, d.Options.To, nil, func(func(time.Time, string, uint64)) {})
	page := render(t, d)
	if n := strings.Count(page, "<svg "); n != len(figureIDs) {
		t.Errorf("%d charts, want %d", n, len(figureIDs))
	}
	if !strings.Contains(page, "No work in progress") || !strings.Contains(page, "No issue done in this period") || !strings.Contains(page, "No forecast is stored yet") {
		t.Error("empty charts do not say why")
	}
	for _, s := range svgRE.FindAllString(page, -1) {
		if err := wellFormed(s); err != nil {
			t.Errorf("chart not well-formed: %v", err)
		}
	}
}

func TestOptions(t *testing.T) {
	o := Options{Now: now}.withDefaults(time.Time{})
	if got, want := o.From.Format(time.DateOnly), "2026-09-14"; got != want {
		t.Errorf("default From = %s, want %s (12 weeks before the Monday of the current week)", got, want)
	}
	if got, want := o.To.Format(time.DateOnly), "2026-12-09"; got != want {
		t.Errorf("default To = %s, want %s", got, want)
	}
	bad := Options{From: now, To: now.AddDate(0, 0, -1)}
	if err := bad.Validate(); err == nil {
		t.Error("From after To: no error")
	}
	long := Options{From: now.AddDate(-4, 0, 0), To: now}
	if err := long.Validate(); err == nil {
		t.Error("a four-year period: no error")
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ max, want float64 }{{0, 1}, {3, 1}, {7, 2}, {10, 2}, {24, 5}, {130, 50}, {900, 200}, {0.4, 0.1}} {
		if got := niceStep(tt.max); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.max, got, tt.want)
		}
	}
}

func TestBuildCFDStacksFinalFirst(t *testing.T) {
	d := syntheticData()
	var keys []string
	for _, s := range d.CFD.Statuses {
		keys = append(keys, s.Key)
	}
	if got := strings.Join(keys, ","); got != "closed,inProgress,open" {
		t.Errorf("stacking order %s, want closed,inProgress,open", got)
	}
	if len(d.CFD.Days) != 87 || d.CFD.Counts[0][29] != 29 || d.CFD.Counts[0][30] != 0 {
		t.Errorf("days %d, closed on day 29 %d and 30 %d", len(d.CFD.Days), d.CFD.Counts[0][29], d.CFD.Counts[0][30])
	}
}
