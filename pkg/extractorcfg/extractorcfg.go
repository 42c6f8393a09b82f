// Package extractorcfg holds the settings of the extract stage
// (internal/extractor): what to search, in which zone, how many requests
// in flight, page sizes, the watermark's name. It is a leaf (it imports
// only pkg/setting), so that pkg/config can map variables onto these
// fields without importing the stage, and the stage embeds the same type:
// one home for each setting.
package extractorcfg

import (
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // the default zone resolves even without /usr/share/zoneinfo

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// Mode is how the search query is chosen, in the old tool's priority.
type Mode string

// Search modes.
const (
	ModeCustom   Mode = "custom"
	ModeStateful Mode = "stateful"
	ModeRange    Mode = "range"
)

// Defaults of Config that other settings refer to.
const (
	// DefaultZone is the old tool's EXPORTER_TRACKER__TIMEZONE.
	DefaultZone = "Europe/Moscow"
	// DefaultStateKey is the old tool's fixed watermark key.
	DefaultStateKey = "tracker_etl_default"
)

// Config is what the operator sets of the extractor, a plain value built
// with Default and checked with Validate. The env tag of a field names the
// variable that sets it (pkg/config maps it; Validate's problems name
// fields, which pkg/config turns into these names).
type Config struct {
	// Query decides the search query.
	Query Query
	// Concurrency bounds the Tracker requests in flight (parallel
	// changelog fetches).
	Concurrency int `env:"EXPORTER_TRACKER__CONCURRENCY"`
	// ChangelogPageSize is perPage of changelog requests (1..1000).
	ChangelogPageSize int `env:"EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE"`
	// ScrollPageSize is perScroll of the search (1..1000).
	ScrollPageSize int `env:"EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE"`
	// StateKey names this extractor's watermark in the state store, so
	// that several extractors can share a store.
	StateKey string `env:"EXPORTER_STATE__KEY"`
}

// Query is what decides the search query. Priority: Custom, then the
// watermark (Stateful), then Range and Queues.
type Query struct {
	// Custom is a user query; when set it wins over everything else.
	Custom string `env:"EXPORTER_TRACKER__SEARCH__QUERY"`
	// Stateful searches from the stored watermark.
	Stateful bool `env:"EXPORTER_STATEFUL"`
	// InitialRange is the window of the first stateful run.
	InitialRange time.Duration `env:"EXPORTER_STATEFUL_INITIAL_RANGE"`
	// Range is the window of range mode; 0 means no time filter.
	Range time.Duration `env:"EXPORTER_TRACKER__SEARCH__RANGE"`
	// Queues are queue keys, upper-cased; "!KEY" excludes a queue.
	Queues []string `env:"EXPORTER_TRACKER__SEARCH__QUEUES"`
	// Zone is the zone query-language datetimes are written in.
	Zone *time.Location `env:"EXPORTER_TRACKER__TIMEZONE"`
	// Overlap is subtracted from the watermark to absorb clock skew.
	Overlap time.Duration `env:"EXPORTER_STATE__OVERLAP"`
	// Layout writes query datetimes: the Go layout of
	// EXPORTER_DATETIME_QUERY_FORMAT, which pkg/config converts; empty is
	// the old tool's %Y-%m-%d %H:%M:%S.
	Layout string
}

// Mode reports the search mode the configuration selects.
func (q Query) Mode() Mode {
	switch {
	case strings.TrimSpace(q.Custom) != "":
		return ModeCustom
	case q.Stateful:
		return ModeStateful
	}
	return ModeRange
}

// Default returns the defaults of the old tool and of the new settings.
func Default() Config {
	zone, err := time.LoadLocation(DefaultZone)
	if err != nil {
		panic("extractorcfg: zone " + DefaultZone + ": " + err.Error()) // cannot happen: time/tzdata is linked
	}
	return Config{
		Query: Query{
			InitialRange: 7 * 24 * time.Hour,
			Range:        2 * time.Hour,
			Zone:         zone,
			Overlap:      5 * time.Minute,
		},
		Concurrency:       16,
		ChangelogPageSize: 100,
		ScrollPageSize:    250,
		StateKey:          DefaultStateKey,
	}
}

var queueRe = regexp.MustCompile(`^!?[A-Z][A-Z0-9_]*$`)

// Validate returns every problem at once (errors.Join of *setting.Problem,
// each naming a field by its path, e.g. "Query.Range"), or nil.
func (c Config) Validate() error {
	var p setting.Problems
	q := c.Query
	if q.Zone == nil {
		p.Add("Query.Zone", nil, "not set")
	}
	p.IntRange("Concurrency", c.Concurrency, 1, 256)
	p.IntRange("ChangelogPageSize", c.ChangelogPageSize, 1, 1000)
	p.IntRange("ScrollPageSize", c.ScrollPageSize, 1, 1000)
	if q.Range < 0 {
		p.Add("Query.Range", q.Range, "want 0 (no time filter) or a positive duration")
	}
	for _, k := range q.Queues {
		if !queueRe.MatchString(k) {
			p.Add("Query.Queues", nil, "queue %q: want a queue key like DEV, or !DEV to exclude it", k)
		}
	}
	if q.Custom == "" && !q.Stateful && len(q.Queues) == 0 && q.Range == 0 {
		p.Add("Query.Custom", nil, "nothing to search: set it, %s or __RANGE, or %s=true", setting.Ref("Query.Queues"), setting.Ref("Query.Stateful"))
	}
	if q.Stateful {
		p.Positive("Query.InitialRange", q.InitialRange)
	}
	p.NonEmpty("StateKey", c.StateKey)
	if q.Overlap < 0 || q.Overlap > 24*time.Hour {
		p.Add("Query.Overlap", q.Overlap, "want 0..24h")
	}
	return p.Err()
}
