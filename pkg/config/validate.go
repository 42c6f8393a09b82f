package config

import (
	"errors"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// component adds the problems of a component's Validate (err, joined
// *setting.Problem naming the fields of cfg) to p, each field, and each
// field a reason refers to (setting.Ref), renamed with the variable its env
// tag names.
func component(p *setting.Problems, err error, cfg any) {
	if err == nil {
		return
	}
	names := setting.Names(cfg, "env")
	for _, e := range leaves(err) {
		var sp *setting.Problem
		if errors.As(e, &sp) {
			named := *sp
			if n, ok := names[sp.Field]; ok {
				named.Field = n
			}
			named.Format, named.Args = "%s", []any{sp.Explain(names)}
			e = &named
		}
		*p = append(*p, e)
	}
}

// configErrors converts problems to *Error, joined: pkg/config's own
// problems and those component has renamed name their variable.
func configErrors(p setting.Problems) error {
	out := make([]error, 0, len(p))
	for _, e := range p {
		var sp *setting.Problem
		if errors.As(e, &sp) {
			e = &Error{Var: sp.Field, Value: sp.Value, Secret: sp.Secret, Reason: sp.Explain(nil)}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks the configuration for the binary of the given role and
// returns every problem at once (errors.Join of *Error, one per problem).
// It checks only what that role uses: Tracker credentials and search for the
// extractor, the calendar and metric rules for the transformer, ClickHouse
// for the loader, everything for RoleAll. It reads the file system only to
// check that named files exist.
func (c Config) Validate(role Role) error {
	var p setting.Problems
	if _, err := ParseLevel(c.LogLevel); err != nil {
		p.Add("EXPORTER_LOGLEVEL", c.LogLevel, "want debug, info, warning, error or critical")
	}
	p.OneOf("EXPORTER_LOG_FORMAT", c.LogFormat, "text", "json")
	if c.LogETLStatsEachNIter < 1 {
		p.Add("EXPORTER_LOG_ETL_STATS_EACH_N_ITER", c.LogETLStatsEachNIter, "want 1 or more")
	}
	if c.ReconcileInterval < 0 {
		p.Add("EXPORTER_RECONCILE_INTERVAL", c.ReconcileInterval, "want 0 (off) or a positive duration")
	}
	if c.RunTimeBudget < 0 {
		p.Add("EXPORTER_RUN_TIME_BUDGET", c.RunTimeBudget, "want 0 (no bound) or a positive duration")
	}
	if c.StartTimeout < 0 {
		p.Add("EXPORTER_START_TIMEOUT", c.StartTimeout, "want 0 (wait forever) or a positive duration")
	}
	if c.HealthAddr != "" {
		if _, port, err := net.SplitHostPort(c.HealthAddr); err != nil || !validListenPort(port) {
			p.Add("EXPORTER_HEALTH_ADDR", c.HealthAddr, "want host:port or :port")
		}
	}
	component(&p, c.Monitoring.Validate(), c.Monitoring)
	component(&p, c.NATS.Validate(role == RoleAll), c.NATS)
	if role.extracts() {
		c.validateTracker(&p)
		c.validateState(&p)
	}
	if role.transforms() {
		c.validateCalendar(&p)
		c.validateStatusTypes(&p)
	}
	if role.transforms() || role.loads() {
		c.validateCustomFields(&p)
	}
	if role.loads() {
		c.validateClickHouse(&p)
	}
	return configErrors(p)
}

// validListenPort reports whether s is a port to listen on, 0 (any)
// included.
func validListenPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

// validateStatusTypes checks that every status has a key and one of
// Tracker's status types, in the order of the keys.
func (c Config) validateStatusTypes(p *setting.Problems) {
	for _, key := range sortedKeys(c.StatusTypes) {
		if strings.TrimSpace(key) == "" {
			p.Add("EXPORTER_STATUS_TYPES", nil, "an entry has an empty status key")
		}
		if t := c.StatusTypes[key]; !slices.Contains(statusTypeNames, t) {
			p.Add("EXPORTER_STATUS_TYPES", nil, "status %q: type %q: want %s", key, t, setting.OrList(statusTypeNames))
		}
	}
}

func (c Config) validateTracker(p *setting.Problems) {
	t := c.Tracker
	component(p, t.Config.Validate(), t.Config)
	if _, err := ParseLevel(t.LogLevel); err != nil {
		p.Add("EXPORTER_TRACKER__LOGLEVEL", t.LogLevel, "want debug, info, warning, error or critical")
	}
	component(p, c.Extractor.Validate(), c.Extractor)
	c.validateSharedRateLimit(p)
	p.IntRange("EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT", t.SearchPerPageLimit, 1, 1000)
	p.Positive("EXPORTER_ETL_INTERVAL_MINUTES", c.ETLInterval)
	if _, err := StrftimeLayout(c.DatetimeQueryFormat); err != nil {
		p.Add("EXPORTER_DATETIME_QUERY_FORMAT", nil, "%v", err)
	}
}

// validateSharedRateLimit checks the limit shared through Redis.
func (c Config) validateSharedRateLimit(p *setting.Problems) {
	if !c.Tracker.RateLimitShared {
		return
	}
	if c.Tracker.RateLimit <= 0 {
		p.Add("EXPORTER_TRACKER__RATE_LIMIT_SHARED", true, "a shared limit needs EXPORTER_TRACKER__RATE_LIMIT above 0 (the organisation-wide rate)")
	}
	if !state.ValidRedisDSN(c.State.RedisDSN.Reveal()) {
		p.AddSecret("EXPORTER_STATE__REDIS_DSN", "the shared rate limit (EXPORTER_TRACKER__RATE_LIMIT_SHARED) lives in this Redis: want redis://[user:password@]host:port[/db], rediss://... or unix://path")
	}
}

// validateState checks the store only with EXPORTER_STATEFUL, which opens
// it; without, only the choice of backend (the old tool's custom storage
// accepted: such setups did not use it either).
func (c Config) validateState(p *setting.Problems) {
	s := c.State
	if !c.Extractor.Query.Stateful {
		component(p, s.Config.ValidateChoice(), s.Config)
	} else {
		err := s.Config.Validate()
		if c.Tracker.RateLimitShared {
			err = without(err, "RedisDSN") // validateSharedRateLimit says it
		}
		component(p, err, s.Config)
	}
}

// without returns the problems of err but those of field.
func without(err error, field string) error {
	var out []error
	for _, e := range leaves(err) {
		var sp *setting.Problem
		if errors.As(e, &sp) && sp.Field == field {
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func (c Config) validateCalendar(p *setting.Problems) {
	cal := c.Calendar
	if len(cal.Workdays) == 0 {
		// The calendar takes no working weekdays (only a holiday file's
		// working days); from the variable it is a mistake.
		p.Add("EXPORTER_WORKDAYS", nil, "no working days: want at least one of 0 (Monday) .. 6 (Sunday)")
	}
	component(p, cal.Validate(), cal)
	regularFile(p, "EXPORTER_HOLIDAYS_FILE", cal.HolidaysFile)
}

// regularFile reports a named file that cannot be read or is not a
// regular file; an empty path is not checked.
func regularFile(p *setting.Problems, name, path string) {
	if path == "" {
		return
	}
	if st, err := os.Stat(path); err != nil {
		p.Add(name, path, "%s", readReason(err))
	} else if !st.Mode().IsRegular() {
		p.Add(name, path, "not a regular file")
	}
}

// ReservedIssueColumns returns the issues table's own columns, which a
// custom field may not take (compared without regard to case).
func ReservedIssueColumns() []string { return slices.Clone(reservedIssueColumns) }

// reservedIssueColumns are the issues table's own columns: the old tool's,
// this project's, and names kept for the pipeline. A custom field may not
// take one.
var reservedIssueColumns = []string{
	// The old tool's.
	"version", "queue", "title", "issue_key", "issue_type", "priority", "status", "resolution",
	"assignee", "author", "qa_engineer", "tags", "components", "project", "created_at", "updated_at",
	"deadline", "closed_at", "resolved_at", "start_date", "end_date", "is_subtask", "is_closed",
	"is_resolved", "story_points", "sprints", "parent_issue_key", "epic_issue_key", "aliases",
	"was_moved", "moved_at", "moved_by",
	// This project's.
	"issue_id", "status_key", "status_type", "started_at", "done_at", "lead_time", "lead_time_business",
	"cycle_time", "cycle_time_business", "active_time", "paused_time", "flow_efficiency", "reopen_count",
	"current_status_since", "current_status_age", "anomalies", "raw",
	// Kept for the pipeline.
	"source_version", "transformed_at", "generation", "last_seen", "custom_fields", "raw_json", "is_deleted",
	"spent", "estimation", "original_estimation", "deleted_detected_at",
}

func (c Config) validateCustomFields(p *setting.Problems) {
	const name = "EXPORTER_CUSTOM_FIELDS"
	columns := map[string]bool{}
	for _, f := range c.CustomFields {
		if strings.TrimSpace(f.Source) == "" {
			p.Add(name, nil, "column %q: empty source field", f.Column)
		}
		switch col := strings.ToLower(f.Column); {
		case !identRe.MatchString(f.Column):
			p.Add(name, nil, "column %q: want a name of letters, digits and _, not starting with a digit", f.Column)
		case slices.Contains(reservedIssueColumns, col):
			p.Add(name, nil, "column %q: the issues table already has it; choose another name", f.Column)
		case columns[col]:
			p.Add(name, nil, "column %q is given twice", f.Column)
		default:
			columns[col] = true
		}
		if !slices.Contains(CustomFieldTypes(), f.Type) {
			p.Add(name, nil, "column %q: type %q: want %s", f.Column, f.Type, setting.OrList(CustomFieldTypes()))
		}
	}
}

func (c Config) validateClickHouse(p *setting.Problems) {
	ch := c.ClickHouse
	if !ch.EnableUpload {
		return
	}
	component(p, ch.Config.Validate(), ch.Config)
	if ch.TLS() {
		// Without TLS the file is not read (a warning says so).
		regularFile(p, "EXPORTER_CLICKHOUSE__CACERT_PATH", ch.CACertPath)
	}
	component(p, c.Loader.Validate(), c.Loader)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
