package extractor

import (
	"fmt"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
)

// Mode is how the search query is chosen, in the old tool's priority.
type Mode = extractorcfg.Mode

// Search modes.
const (
	ModeCustom   = extractorcfg.ModeCustom
	ModeStateful = extractorcfg.ModeStateful
	ModeRange    = extractorcfg.ModeRange
)

// QueryConfig is what decides the search query (extractorcfg.Query: the
// operator's settings).
type QueryConfig = extractorcfg.Query

// sortBy orders results for the watermark: Updated ascending.
const sortBy = `"Sort by": Updated ASC`

// QueryTimeLayout is how datetimes are written in queries (the old tool's
// EXPORTER_DATETIME_QUERY_FORMAT default, %Y-%m-%d %H:%M:%S).
const QueryTimeLayout = "2006-01-02 15:04:05"

// BuildQuery returns the query-language text for one run and the lower
// bound of Updated it asks for (zero in custom mode). watermark is the
// stored state (zero when none); now is the run's start time.
func BuildQuery(q QueryConfig, watermark, now time.Time) (string, time.Time) {
	if q.Mode() == ModeCustom {
		text := strings.TrimSpace(q.Custom)
		if !strings.Contains(strings.ToLower(text), "sort by") {
			text += " " + sortBy
		}
		return text, time.Time{}
	}
	var since time.Time
	switch {
	case q.Mode() == ModeStateful && !watermark.IsZero():
		since = watermark.Add(-q.Overlap)
	case q.Mode() == ModeStateful:
		since = now.Add(-q.InitialRange)
	case q.Range > 0:
		since = now.Add(-q.Range)
	}
	// A zero (or empty) range in range mode means no time filter, as in the
	// old tool: every issue of the queues.
	return QueryFrom(q, since)
}

// QueryFrom is the stateful or range query for issues updated at or after
// since (rounded down to the second: query datetimes have second
// precision, so the issue at since itself is included); a zero since adds
// no condition on Updated.
func QueryFrom(q QueryConfig, since time.Time) (string, time.Time) {
	zone := q.Zone
	if zone == nil {
		zone = time.UTC
	}
	since = since.Truncate(time.Second)
	var parts []string
	var include []string
	for _, k := range q.Queues {
		k = strings.TrimSpace(k)
		switch {
		case k == "":
		case strings.HasPrefix(k, "!"):
			parts = append(parts, "Queue: "+k)
		default:
			include = append(include, k)
		}
	}
	if len(include) > 0 {
		parts = append([]string{"Queue: " + strings.Join(include, ", ")}, parts...)
	}
	layout := q.Layout
	if layout == "" {
		layout = QueryTimeLayout
	}
	if !since.IsZero() {
		parts = append(parts, fmt.Sprintf(`Updated: >= "%s"`, since.In(zone).Format(layout)))
	}
	return strings.TrimSpace(strings.Join(parts, " and ") + " " + sortBy), since
}
