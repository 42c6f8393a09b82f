package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// problems collects validation errors.
type problems []error

func (p *problems) add(name string, value any, format string, args ...any) {
	e := &Error{Var: name, Reason: fmt.Sprintf(format, args...)}
	if value != nil {
		e.Value = fmt.Sprint(value)
	}
	*p = append(*p, e)
}

// addSecret reports a problem with a secret, never showing it.
func (p *problems) addSecret(name, format string, args ...any) {
	*p = append(*p, &Error{Var: name, Secret: true, Reason: fmt.Sprintf(format, args...)})
}

func (p *problems) intRange(name string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(name, v, "want %d..%d", lo, hi)
	}
}

func (p *problems) positive(name string, d time.Duration) {
	if d <= 0 {
		p.add(name, d, "want a positive duration")
	}
}

func (p *problems) oneOf(name, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.add(name, v, "want %s", orList(allowed))
	}
}

func (p *problems) nonEmpty(name, v string) {
	if strings.TrimSpace(v) == "" {
		p.add(name, nil, "must not be empty")
	}
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	queueRe = regexp.MustCompile(`^!?[A-Z][A-Z0-9_]*$`)
)

// Validate checks the configuration for the binary of the given role and
// returns every problem at once (errors.Join of *Error, one per problem).
// It checks only what that role uses: Tracker credentials and search for the
// extractor, the calendar and metric rules for the transformer, ClickHouse
// for the loader, everything for RoleAll. It reads the file system only to
// check that named files exist.
func (c Config) Validate(role Role) error {
	var p problems
	if _, err := ParseLevel(c.LogLevel); err != nil {
		p.add("EXPORTER_LOGLEVEL", c.LogLevel, "want debug, info, warning, error or critical")
	}
	p.oneOf("EXPORTER_LOG_FORMAT", c.LogFormat, "text", "json")
	if c.LogETLStatsEachNIter < 1 {
		p.add("EXPORTER_LOG_ETL_STATS_EACH_N_ITER", c.LogETLStatsEachNIter, "want 1 or more")
	}
	if c.ReconcileInterval < 0 {
		p.add("EXPORTER_RECONCILE_INTERVAL", c.ReconcileInterval, "want 0 (off) or a positive duration")
	}
	if c.RunTimeBudget < 0 {
		p.add("EXPORTER_RUN_TIME_BUDGET", c.RunTimeBudget, "want 0 (no bound) or a positive duration")
	}
	if c.StartTimeout < 0 {
		p.add("EXPORTER_START_TIMEOUT", c.StartTimeout, "want 0 (wait forever) or a positive duration")
	}
	if c.HealthAddr != "" {
		if _, port, err := net.SplitHostPort(c.HealthAddr); err != nil || !validPort(port, true) {
			p.add("EXPORTER_HEALTH_ADDR", c.HealthAddr, "want host:port or :port")
		}
	}
	c.validateMonitoring(&p)
	c.validateNATS(&p, role)
	if role.extracts() {
		c.validateTracker(&p)
		c.validateState(&p)
	}
	if role.transforms() {
		c.validateCalendar(&p)
		for _, key := range sortedKeys(c.StatusTypes) {
			if strings.TrimSpace(key) == "" {
				p.add("EXPORTER_STATUS_TYPES", nil, "an entry has an empty status key")
			}
			if t := c.StatusTypes[key]; !slices.Contains(statusTypeNames, t) {
				p.add("EXPORTER_STATUS_TYPES", nil, "status %q: type %q: want %s", key, t, orList(statusTypeNames))
			}
		}
	}
	if role.transforms() || role.loads() {
		c.validateCustomFields(&p)
	}
	if role.loads() {
		c.validateClickHouse(&p)
	}
	return errors.Join(p...)
}

func validPort(s string, allowZero bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || allowZero && n == 0)
}

func (c Config) validateMonitoring(p *problems) {
	m := c.Monitoring
	if m.MetricsEnabled {
		p.nonEmpty("EXPORTER_MONITORING__METRICS_HOST", m.MetricsHost)
		p.intRange("EXPORTER_MONITORING__METRICS_PORT", m.MetricsPort, 1, 65535)
	}
	if m.SentryEnabled && !m.SentryDSN.IsSet() {
		p.add("EXPORTER_MONITORING__SENTRY_DSN", nil, "must be set when EXPORTER_MONITORING__SENTRY_ENABLED is true")
	}
	if m.SentryDSN.IsSet() {
		if u, err := url.Parse(m.SentryDSN.Reveal()); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			p.addSecret("EXPORTER_MONITORING__SENTRY_DSN", "want a Sentry DSN like https://KEY@HOST/PROJECT")
		}
	}
}

func (c Config) validateNATS(p *problems, role Role) {
	n := c.NATS
	if n.URL != "" {
		for i, u := range strings.Split(n.URL, ",") {
			if !validNATSURL(strings.TrimSpace(u)) {
				// The URL may hold credentials: do not print it.
				p.addSecret("EXPORTER_NATS__URL", "server %d: want nats://host:port, tls://host:port or host:port", i+1)
			}
		}
	} else if role == RoleAll {
		p.nonEmpty("EXPORTER_NATS__DATA_DIR", n.DataDir)
	}
	switch {
	case n.Replicas != 1 && n.Replicas != 3:
		p.add("EXPORTER_NATS__REPLICAS", n.Replicas, "want 1 or 3")
	case n.Replicas != 1 && n.URL == "" && role == RoleAll:
		// Refused rather than ignored: whoever asks for three copies
		// expects to survive a server's loss, which one embedded server
		// cannot give.
		p.add("EXPORTER_NATS__REPLICAS", n.Replicas, "the embedded NATS server (EXPORTER_NATS__URL empty) is a single node and keeps 1 replica: set EXPORTER_NATS__URL to the servers of a NATS cluster, or EXPORTER_NATS__REPLICAS=1")
	}
	if n.MaxPayload < 1<<10 || n.MaxPayload > 64<<20 {
		p.add("EXPORTER_NATS__MAX_PAYLOAD", n.MaxPayload, "want 1KiB..64MiB")
	}
}

func validNATSURL(s string) bool {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return false
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return false
	}
	return u.Port() == "" || validPort(u.Port(), false)
}

func (c Config) validateTracker(p *problems) {
	t := c.Tracker
	switch {
	case t.Token.IsSet() && t.IAMToken.IsSet():
		p.add("EXPORTER_TRACKER__TOKEN", nil, "EXPORTER_TRACKER__TOKEN and EXPORTER_TRACKER__IAM_TOKEN are both set; set one")
	case !t.Token.IsSet() && !t.IAMToken.IsSet():
		p.add("EXPORTER_TRACKER__TOKEN", nil, "not set; set it (OAuth) or EXPORTER_TRACKER__IAM_TOKEN")
	}
	switch {
	case t.OrgID != "" && t.CloudOrgID != "":
		p.add("EXPORTER_TRACKER__ORG_ID", nil, "EXPORTER_TRACKER__ORG_ID and EXPORTER_TRACKER__CLOUD_ORG_ID are both set; set one")
	case t.OrgID == "" && t.CloudOrgID == "":
		p.add("EXPORTER_TRACKER__ORG_ID", nil, "not set; set it (Yandex 360) or EXPORTER_TRACKER__CLOUD_ORG_ID (Yandex Cloud)")
	case t.IAMToken.IsSet() && !t.Token.IsSet() && t.CloudOrgID == "":
		p.add("EXPORTER_TRACKER__CLOUD_ORG_ID", nil, "an IAM token works only with a cloud organization: set EXPORTER_TRACKER__CLOUD_ORG_ID instead of EXPORTER_TRACKER__ORG_ID")
	}
	if u, err := url.Parse(t.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.add("EXPORTER_TRACKER__API_URL", t.BaseURL, "want an http(s) URL like %s", defaultAPIURL)
	}
	p.oneOf("EXPORTER_TRACKER__API_VERSION", t.APIVersion, "v2", "v3")
	if _, err := ParseLevel(t.LogLevel); err != nil {
		p.add("EXPORTER_TRACKER__LOGLEVEL", t.LogLevel, "want debug, info, warning, error or critical")
	}
	p.positive("EXPORTER_TRACKER__TIMEOUT", t.Timeout)
	p.intRange("EXPORTER_TRACKER__MAX_RETRIES", t.MaxRetries, 0, 100)
	p.oneOf("EXPORTER_TRACKER__LANGUAGE", t.Language, "en", "ru")
	if t.Timezone == nil {
		p.add("EXPORTER_TRACKER__TIMEZONE", nil, "not set")
	}
	p.intRange("EXPORTER_TRACKER__CONCURRENCY", t.Concurrency, 1, 256)
	t.validateRateLimit(p)
	c.validateSharedRateLimit(p)
	p.intRange("EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE", t.ChangelogPageSize, 1, 1000)
	p.intRange("EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE", t.ScrollPageSize, 1, 1000)
	p.intRange("EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT", t.Search.PerPageLimit, 1, 1000)
	if t.Search.Range < 0 {
		p.add("EXPORTER_TRACKER__SEARCH__RANGE", t.Search.Range, "want 0 (no time filter) or a positive duration")
	}
	for _, q := range t.Search.Queues {
		if !queueRe.MatchString(q) {
			p.add("EXPORTER_TRACKER__SEARCH__QUEUES", nil, "queue %q: want a queue key like DEV, or !DEV to exclude it", q)
		}
	}
	if t.Search.Query == "" && !c.Stateful && len(t.Search.Queues) == 0 && t.Search.Range == 0 {
		p.add("EXPORTER_TRACKER__SEARCH__QUERY", nil, "nothing to search: set it, EXPORTER_TRACKER__SEARCH__QUEUES or __RANGE, or EXPORTER_STATEFUL=true")
	}
	if c.Stateful {
		p.positive("EXPORTER_STATEFUL_INITIAL_RANGE", c.StatefulInitialRange)
	}
	p.positive("EXPORTER_ETL_INTERVAL_MINUTES", c.ETLInterval)
	if _, err := StrftimeLayout(c.DatetimeQueryFormat); err != nil {
		p.add("EXPORTER_DATETIME_QUERY_FORMAT", nil, "%v", err)
	}
}

// validateRateLimit checks the fixed or adaptive limit.
func (t TrackerConfig) validateRateLimit(p *problems) {
	if t.RateLimit < 0 {
		p.add("EXPORTER_TRACKER__RATE_LIMIT", t.RateLimit, "want 0 (no limit) or more")
	}
	switch {
	case !t.RateLimitAdaptive:
	case t.RateLimitMax <= 0:
		p.add("EXPORTER_TRACKER__RATE_LIMIT_MAX", t.RateLimitMax, "want more than 0")
	case t.RateLimitMax < t.RateLimit:
		p.add("EXPORTER_TRACKER__RATE_LIMIT_MAX", t.RateLimitMax, "want at least EXPORTER_TRACKER__RATE_LIMIT (%g), the rate the adaptive limit starts from", t.RateLimit)
	}
}

// validateSharedRateLimit checks the limit shared through Redis.
func (c Config) validateSharedRateLimit(p *problems) {
	if !c.Tracker.RateLimitShared {
		return
	}
	if c.Tracker.RateLimit <= 0 {
		p.add("EXPORTER_TRACKER__RATE_LIMIT_SHARED", true, "a shared limit needs EXPORTER_TRACKER__RATE_LIMIT above 0 (the organisation-wide rate)")
	}
	if !validRedisDSN(c.State.RedisDSN.Reveal()) {
		p.addSecret("EXPORTER_STATE__REDIS_DSN", "the shared rate limit (EXPORTER_TRACKER__RATE_LIMIT_SHARED) lives in this Redis: want redis://[user:password@]host:port[/db], rediss://... or unix://path")
	}
}

func validRedisDSN(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) && (u.Scheme == "unix" || u.Host != "")
}

func (c Config) validateState(p *problems) {
	s := c.State
	switch s.Storage {
	case StorageJSONFile, StorageRedis:
	case "custom":
		if c.Stateful {
			p.add("EXPORTER_STATE__STORAGE", s.Storage, "the old tool's custom storage (a Python class) is not supported: use jsonfile "+
				"(a local file, or an S3 object with EXPORTER_STATE__JSONFILE_STRATEGY=s3) or redis (EXPORTER_STATE__REDIS_DSN)")
		}
	default:
		p.add("EXPORTER_STATE__STORAGE", s.Storage, "want jsonfile or redis")
	}
	p.oneOf("EXPORTER_STATE__JSONFILE_STRATEGY", s.JSONFileStrategy, StrategyLocal, StrategyS3)
	p.nonEmpty("EXPORTER_STATE__KEY", s.Key)
	if s.Overlap < 0 || s.Overlap > 24*time.Hour {
		p.add("EXPORTER_STATE__OVERLAP", s.Overlap, "want 0..24h")
	}
	if !c.Stateful {
		return
	}
	switch s.Storage {
	case StorageRedis:
		if !validRedisDSN(s.RedisDSN.Reveal()) && !c.Tracker.RateLimitShared { // else said by validateSharedRateLimit
			p.addSecret("EXPORTER_STATE__REDIS_DSN", "want redis://[user:password@]host:port[/db], rediss://... or unix://path")
		}
	case StorageJSONFile:
		p.nonEmpty("EXPORTER_STATE__JSONFILE_PATH", s.JSONFilePath)
		if s.JSONFileStrategy != StrategyS3 {
			break
		}
		p.nonEmpty("EXPORTER_STATE__JSONFILE_S3_BUCKET", s.S3Bucket)
		p.nonEmpty("EXPORTER_STATE__JSONFILE_S3_REGION", s.S3Region)
		if s.S3Endpoint != "" {
			if u, err := url.Parse(s.S3Endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				p.add("EXPORTER_STATE__JSONFILE_S3_ENDPOINT", s.S3Endpoint, "want an http(s) URL like https://storage.yandexcloud.net")
			}
		}
		if s.S3AccessKey.IsSet() != s.S3SecretKey.IsSet() {
			p.add("EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY", nil, "set both EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY and _SECRET_KEY, or neither (AWS default credentials)")
		}
	}
}

func (c Config) validateCalendar(p *problems) {
	cal := c.Calendar
	if len(cal.Workdays) == 0 {
		p.add("EXPORTER_WORKDAYS", nil, "no working days: want at least one of 0 (Monday) .. 6 (Sunday)")
	}
	for _, d := range cal.Workdays {
		if d < time.Sunday || d > time.Saturday {
			p.add("EXPORTER_WORKDAYS", nil, "weekday %d is not a weekday", int(d))
		}
	}
	startOK := cal.Start >= 0 && cal.Start < 24*time.Hour && cal.Start%time.Second == 0
	endOK := cal.End > 0 && cal.End <= 24*time.Hour && cal.End%time.Second == 0
	if !startOK {
		p.add("EXPORTER_BUSINESS_HOURS_START", clockExact(cal.Start), "want whole seconds 00:00:00..23:59:59")
	}
	if !endOK {
		p.add("EXPORTER_BUSINESS_HOURS_END", clockExact(cal.End), "want whole seconds 00:00:01..24:00:00")
	}
	if startOK && endOK && cal.Start >= cal.End {
		p.add("EXPORTER_BUSINESS_HOURS_END", clock(cal.End), "must be after EXPORTER_BUSINESS_HOURS_START (%s)", clock(cal.Start))
	}
	if cal.Zone == nil {
		p.add(varBusinessTimezone, nil, "not set")
	}
	p.oneOf("EXPORTER_HOLIDAYS", cal.Holidays, "default", "none")
	if cal.HolidaysFile != "" {
		if st, err := os.Stat(cal.HolidaysFile); err != nil {
			p.add("EXPORTER_HOLIDAYS_FILE", cal.HolidaysFile, "%s", readReason(err))
		} else if !st.Mode().IsRegular() {
			p.add("EXPORTER_HOLIDAYS_FILE", cal.HolidaysFile, "not a regular file")
		}
	}
}

// clockExact renders an offset from midnight as HH:MM:SS with the
// fraction of a second, if any, as given.
func clockExact(d time.Duration) string {
	if frac := d % time.Second; frac != 0 && d > 0 {
		return clock(d-frac) + strings.TrimPrefix(fmt.Sprintf("%.9g", frac.Seconds()), "0")
	}
	return clock(d)
}

// clock renders an offset from midnight as HH:MM:SS.
func clock(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%s%02d:%02d:%02d", neg, s/3600, s/60%60, s%60)
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

func (c Config) validateCustomFields(p *problems) {
	const name = "EXPORTER_CUSTOM_FIELDS"
	columns := map[string]bool{}
	for _, f := range c.CustomFields {
		if strings.TrimSpace(f.Source) == "" {
			p.add(name, nil, "column %q: empty source field", f.Column)
		}
		switch col := strings.ToLower(f.Column); {
		case !identRe.MatchString(f.Column):
			p.add(name, nil, "column %q: want a name of letters, digits and _, not starting with a digit", f.Column)
		case slices.Contains(reservedIssueColumns, col):
			p.add(name, nil, "column %q: the issues table already has it; choose another name", f.Column)
		case columns[col]:
			p.add(name, nil, "column %q is given twice", f.Column)
		default:
			columns[col] = true
		}
		if !slices.Contains(CustomFieldTypes(), f.Type) {
			p.add(name, nil, "column %q: type %q: want %s", f.Column, f.Type, orList(CustomFieldTypes()))
		}
	}
}

// wellKnownPorts maps ClickHouse's default ports to their protocol.
var wellKnownPorts = map[int]string{8123: ProtoHTTP, 8443: ProtoHTTPS, 9000: ProtoNative, 9440: ProtoNativeTLS}

func (c Config) validateClickHouse(p *problems) {
	ch := c.ClickHouse
	if !ch.EnableUpload {
		return
	}
	p.nonEmpty("EXPORTER_CLICKHOUSE__HOST", ch.Host)
	if ch.Host != "" {
		for _, h := range strings.Split(ch.Host, ",") {
			h = strings.TrimSpace(h)
			if h == "" {
				p.add("EXPORTER_CLICKHOUSE__HOST", ch.Host, "an empty host in the list")
				continue
			}
			if _, port, err := net.SplitHostPort(h); err == nil && !validPort(port, false) {
				p.add("EXPORTER_CLICKHOUSE__HOST", h, "invalid port")
			}
		}
	}
	p.oneOf("EXPORTER_CLICKHOUSE__HOST_STRATEGY", ch.HostStrategy, "in_order", "round_robin")
	if ch.Cluster != "" {
		if !identRe.MatchString(ch.Cluster) {
			p.add("EXPORTER_CLICKHOUSE__CLUSTER", ch.Cluster, "want a name of letters, digits and _, not starting with a digit")
		}
		if !strings.Contains(ch.ZooKeeperPath, "{table}") {
			p.add("EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH", ch.ZooKeeperPath, "must contain {table}: every table needs its own path")
		}
		p.nonEmpty("EXPORTER_CLICKHOUSE__REPLICA_NAME", ch.ReplicaName)
	}
	p.oneOf("EXPORTER_CLICKHOUSE__PROTO", ch.Proto, ProtoHTTP, ProtoHTTPS, ProtoNative, ProtoNativeTLS)
	p.intRange("EXPORTER_CLICKHOUSE__PORT", ch.Port, 1, 65535)
	if want, ok := wellKnownPorts[ch.Port]; ok && want != ch.Proto && slices.Contains([]string{ProtoHTTP, ProtoHTTPS, ProtoNative, ProtoNativeTLS}, ch.Proto) {
		p.add("EXPORTER_CLICKHOUSE__PORT", ch.Port, "is ClickHouse's %s port but EXPORTER_CLICKHOUSE__PROTO is %s: set the protocol to %s or use another port", want, ch.Proto, want)
	}
	if ch.ServerlessProxyID != "" && ch.Proto != ProtoHTTPS {
		p.add("EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID", nil, "needs EXPORTER_CLICKHOUSE__PROTO=https")
	}
	if ch.Proto == ProtoHTTPS && ch.CACertPath == "" && ch.ServerlessProxyID == "" {
		p.add("EXPORTER_CLICKHOUSE__CACERT_PATH", nil, "must be set when EXPORTER_CLICKHOUSE__PROTO is https")
	}
	if ch.CACertPath != "" {
		if st, err := os.Stat(ch.CACertPath); err != nil {
			p.add("EXPORTER_CLICKHOUSE__CACERT_PATH", ch.CACertPath, "%s", readReason(err))
		} else if !st.Mode().IsRegular() {
			p.add("EXPORTER_CLICKHOUSE__CACERT_PATH", ch.CACertPath, "not a regular file")
		}
	}
	p.nonEmpty("EXPORTER_CLICKHOUSE__USERNAME", ch.Username)
	tables := []struct{ name, value string }{{"EXPORTER_CLICKHOUSE__DATABASE", ch.Database}}
	for _, tv := range tableVars {
		tables = append(tables, struct{ name, value string }{tv.name, *tv.get(&ch.Tables)})
	}
	seen := map[string]string{}
	for i, t := range tables {
		if !identRe.MatchString(t.value) {
			p.add(t.name, t.value, "want a name of letters, digits and _, not starting with a digit")
			continue
		}
		if i == 0 {
			continue
		}
		if other, dup := seen[t.value]; dup {
			p.add(t.name, t.value, "same table as %s", other)
			continue
		}
		seen[t.value] = t.name
	}
	if ch.AutoDeduplicate {
		p.positive("EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY", ch.OptimizeEvery)
	}
	p.positive("EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY", ch.Backoff.BaseDelay)
	if ch.Backoff.ExpoFactor < 1 || ch.Backoff.ExpoFactor > 100 {
		p.add("EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR", ch.Backoff.ExpoFactor, "want 1..100")
	}
	p.intRange("EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES", ch.Backoff.MaxTries, 1, 100)
	p.intRange("EXPORTER_CLICKHOUSE__BATCH_ROWS", ch.BatchRows, 1, 10_000_000)
	if ch.BatchBytes < 1<<10 {
		p.add("EXPORTER_CLICKHOUSE__BATCH_BYTES", ch.BatchBytes, "want 1KiB or more")
	}
	p.positive("EXPORTER_CLICKHOUSE__BATCH_AGE", ch.BatchAge)
	p.intRange("EXPORTER_CLICKHOUSE__MAX_DELIVERIES", ch.MaxDeliveries, 1, 1000)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
