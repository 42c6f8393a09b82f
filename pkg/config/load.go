package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/joho/godotenv"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// Error is one configuration problem. Its text names the variable, where the
// value came from when that was not the environment, the value (never for a
// secret), and the reason.
type Error struct {
	// Var is the EXPORTER_ variable, or "--env-file".
	Var string
	// Origin is where the value came from when not the environment: a flag
	// ("--tracker-timeout"), ".env file PATH", or a JSON group variable.
	Origin string
	// Value is the offending value; empty when it is a secret or when the
	// reason quotes what is wrong.
	Value string
	// Secret marks a problem with a secret: its value is never shown.
	Secret bool
	// Reason says what is wrong and what is wanted.
	Reason string
}

// Error formats the problem on one line, as setting.Problem does:
// VAR (from ORIGIN)="value": reason.
func (e *Error) Error() string {
	name := e.Var
	if e.Origin != "" {
		name += " (from " + e.Origin + ")"
	}
	p := setting.Problem{Field: name, Value: e.Value, Secret: e.Secret, Format: "%s", Args: []any{e.Reason}}
	return p.Error()
}

// Problems flattens an error returned by Load, FromCLI or Validate (joined
// errors, possibly nested) into one line per problem.
func Problems(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			out = append(out, line)
		}
	}
	walk(err)
	return out
}

// FormatError renders err as one line per problem, each prefixed "config: ",
// for main to print before exiting with code 2. It returns "" for nil.
func FormatError(err error) string {
	lines := Problems(err)
	for i, l := range lines {
		lines[i] = "config: " + l
	}
	return strings.Join(lines, "\n")
}

// leaves splits a joined error into its parts.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// Load reads the configuration from environ (as os.Environ returns it) and
// an env file, over the defaults. With envFile "" it reads ./.env when that
// exists; a named file must exist. Variables in environ win over the file
// (godotenv and python-dotenv semantics). Names are matched without regard
// to case, as the old tool did. It returns every problem at once, joined,
// one *Error each; the Config returned alongside holds every value that did
// parse (defaults elsewhere), so that main can add Validate's problems to
// the same report. Unknown EXPORTER_ variables are warnings (Config.Warnings),
// not errors. Load does not validate: call Validate with the binary's role.
func Load(environ []string, envFile string) (Config, error) {
	cfg, _, err := load(environ, envFile, nil)
	return cfg, err
}

// Check joins Load's error with Validate(role)'s, leaving out Validate's
// problems with variables that already failed to parse: their defaults stand
// in for them and would only confuse. main calls it and exits with code 2
// when it returns an error.
func Check(cfg Config, loadErr error, role Role) error {
	failed := map[string]bool{}
	for _, e := range leaves(loadErr) {
		var ce *Error
		if errors.As(e, &ce) {
			failed[ce.Var] = true
		}
	}
	errs := []error{loadErr}
	for _, e := range leaves(cfg.Validate(role)) {
		var ce *Error
		if errors.As(e, &ce) && failed[ce.Var] {
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// rawValue is one raw value and where it came from.
type rawValue struct {
	value  string
	origin string // "" for the environment
}

// load returns the Config, the env file's variables, and the problems.
func load(environ []string, envFile string, overrides map[string]rawValue) (Config, map[string]string, error) {
	cfg := Default()
	var errs []error

	fileVals, origin, err := readEnvFile(envFile)
	if err != nil {
		errs = append(errs, err)
	}
	vals := map[string]rawValue{}
	mergeRaw(vals, fileVals, origin)
	mergeRaw(vals, environMap(environ), "")
	for k, s := range overrides {
		vals[k] = s
	}
	errs = append(errs, expandGroups(vals)...)

	known, set, setErrs := applyVars(&cfg, vals)
	errs = append(errs, setErrs...)
	applyDerived(&cfg, set)
	cfg.Warnings = warnings(vals, known, set, cfg)
	cfg.Explicit = set
	return cfg, fileVals, errors.Join(errs...)
}

// mergeRaw adds the EXPORTER_ variables of kv to vals under their upper-case
// names, over what vals holds. When two spellings of a name differ in case,
// the upper-case one wins, else the last in sorted order.
func mergeRaw(vals map[string]rawValue, kv map[string]string, origin string) {
	exact := map[string]bool{}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic when two spellings differ in case
	for _, k := range keys {
		up := strings.ToUpper(k)
		if !strings.HasPrefix(up, envPrefix) || exact[up] {
			continue
		}
		vals[up] = rawValue{value: kv[k], origin: origin}
		exact[up] = k == up
	}
}

// environMap turns "NAME=value" entries into a map; entries without '='
// are skipped.
func environMap(environ []string) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// applyVars sets in cfg every variable of the table that vals holds. It
// returns the names of the table, the names that were set, and one *Error
// per problem.
func applyVars(cfg *Config, vals map[string]rawValue) (known, set map[string]bool, errs []error) {
	known = map[string]bool{}
	set = map[string]bool{}
	for _, v := range table() {
		known[v.name] = true
		s, ok := vals[v.name]
		if !ok {
			continue
		}
		value := strings.TrimSpace(s.value)
		if value == "" && !v.keepEmpty {
			continue
		}
		if err := v.set(cfg, value); err != nil {
			errs = append(errs, setErrors(v, s.origin, value, err)...)
			continue
		}
		set[v.name] = true
	}
	return known, set, errs
}

// setErrors turns what v's set returned for value into one *Error per
// problem. The value is quoted unless v is a secret or the problem quotes
// the entry of a list that is wrong.
func setErrors(v variable, origin, value string, err error) []error {
	var errs []error
	for _, e := range leaves(err) {
		pe := &Error{Var: v.name, Origin: origin, Secret: v.secret, Reason: e.Error()}
		var entry *entryError
		if !v.secret && !errors.As(e, &entry) {
			pe.Value = value
		}
		errs = append(errs, pe)
	}
	return errs
}

// applyDerived gives the settings that default to another setting that
// setting's value, when they were not set themselves.
func applyDerived(cfg *Config, set map[string]bool) {
	if !set[varBusinessTimezone] {
		cfg.Calendar.Zone = cfg.Extractor.Query.Zone
	}
	if !set[varOptimizeEvery] {
		cfg.Loader.OptimizeEvery = cfg.ETLInterval
	}
	if !set[varRateLimitMax] && cfg.Tracker.RateLimit > cfg.Tracker.RateCeiling {
		// A start rate above the default ceiling is the ceiling too.
		cfg.Tracker.RateCeiling = cfg.Tracker.RateLimit
	}
	if set[varPerPageLimit] && !set[varScrollPageSize] && cfg.Tracker.SearchPerPageLimit != Default().Tracker.SearchPerPageLimit {
		// The old search page size, changed from its default: the page
		// size of the scroll search that replaced page mode.
		cfg.Extractor.ScrollPageSize = cfg.Tracker.SearchPerPageLimit
	}
}

// readEnvFile reads the env file: the named one, which must exist, or
// ./.env when it exists. Parse errors do not quote the file: it holds
// secrets.
func readEnvFile(path string) (map[string]string, string, error) {
	explicit := path != ""
	if !explicit {
		path = ".env"
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return nil, "", nil
	default:
		return nil, "", &Error{Var: "--env-file", Value: path, Reason: readReason(err)}
	}
	kv, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		line := badLine(data)
		reason := "cannot parse the file (an unterminated quote or a bad variable name)"
		if line > 0 {
			reason = fmt.Sprintf("cannot parse the file near line %d (an unterminated quote or a bad variable name)", line)
		}
		return nil, "", &Error{Var: "--env-file", Value: path, Reason: reason}
	}
	return kv, ".env file " + path, nil
}

func readReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// badLine finds the line after the longest prefix of whole lines that
// parses; 0 when it cannot tell.
func badLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	end, good := 0, 0
	for i, l := range lines {
		end += len(l)
		if _, err := godotenv.UnmarshalBytes(data[:end]); err == nil {
			good = i + 1
		}
	}
	if good >= len(lines) {
		return 0
	}
	return good + 1
}

// expandGroups turns the JSON objects that pydantic-settings accepted for a
// nested model (EXPORTER_TRACKER='{"token": "...", "search": {"queues":
// "DEV"}}') into the nested variables. Variables set one by one win. Errors
// never quote the JSON: it may hold secrets.
func expandGroups(vals map[string]rawValue) []error {
	x := groupExpander{vals: vals, isGroup: map[string]bool{}}
	for _, g := range jsonGroups {
		x.isGroup[g] = true
	}
	for _, g := range jsonGroups { // children first: the more specific wins
		x.expandVar(g)
	}
	return x.errs
}

// groupExpander expands JSON group variables into vals, gathering the
// problems in errs.
type groupExpander struct {
	vals    map[string]rawValue
	isGroup map[string]bool
	errs    []error
}

// expandVar replaces the group variable g, when vals holds it, with the
// variables its JSON object sets.
func (x *groupExpander) expandVar(g string) {
	s, ok := x.vals[g]
	if !ok {
		return
	}
	delete(x.vals, g)
	if strings.TrimSpace(s.value) == "" {
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s.value), &obj); err != nil {
		x.errs = append(x.errs, &Error{Var: g, Origin: s.origin, Secret: true,
			Reason: "not a JSON object; set the " + g + "__* variables instead"})
		return
	}
	origin := g + " (JSON)"
	if s.origin != "" {
		origin = g + " (JSON, from " + s.origin + ")"
	}
	x.expand(g, obj, origin)
}

// expand sets the variables of the keys of obj, the object of group, in
// sorted order.
func (x *groupExpander) expand(group string, obj map[string]json.RawMessage, origin string) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		x.key(group, k, obj[k], origin)
	}
}

// key sets the variable of key k of group's object to raw: a nested group
// is expanded, null is no value, a JSON string is its text, anything else
// its JSON text. A variable vals already holds is kept.
func (x *groupExpander) key(group, k string, raw json.RawMessage, origin string) {
	raw = bytes.TrimSpace(raw)
	name := group + "__" + strings.ToUpper(k)
	if x.isGroup[name] && len(raw) > 0 && raw[0] == '{' {
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sub); err != nil {
			x.keyError(group, k, "not a JSON object", origin)
			return
		}
		x.expand(name, sub, origin)
		return
	}
	if _, ok := x.vals[name]; ok {
		return
	}
	var value string
	switch {
	case string(raw) == "null":
		return
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &value); err != nil {
			x.keyError(group, k, "bad JSON string", origin)
			return
		}
	default:
		value = string(raw) // numbers, booleans, lists, objects as JSON text
	}
	x.vals[name] = rawValue{value: value, origin: origin}
}

// keyError records a problem with key k of group's object, without its
// value.
func (x *groupExpander) keyError(group, k, reason, origin string) {
	x.errs = append(x.errs, &Error{Var: group, Origin: origin, Secret: true, Reason: "key " + k + ": " + reason})
}

// warnings lists unknown variables and compatibility variables that have
// no effect, sorted.
func warnings(vals map[string]rawValue, known, set map[string]bool, cfg Config) []string {
	var out []string
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	for name := range vals {
		if known[name] {
			continue
		}
		w := name + ": unknown variable, ignored"
		if near := nearest(name, names); near != "" {
			w += " (did you mean " + near + "?)"
		}
		out = append(out, w)
	}
	out = append(out, compatWarnings(set, cfg)...)
	sort.Strings(out)
	return out
}

// compatWarnings lists the variables of the old tool that are set but have
// no effect here.
func compatWarnings(set map[string]bool, cfg Config) []string {
	var out []string
	d := Default()
	if set["EXPORTER_NOT_NULLABLE_FIELDS"] && !slices.Equal(cfg.NotNullableFields, d.NotNullableFields) {
		out = append(out, "EXPORTER_NOT_NULLABLE_FIELDS: accepted for compatibility, no effect: empty dates are always stored as zero dates")
	}
	if set["EXPORTER_DATETIME_RESPONSE_FORMAT"] && cfg.DatetimeResponseFormat != d.DatetimeResponseFormat {
		out = append(out, "EXPORTER_DATETIME_RESPONSE_FORMAT: accepted for compatibility, no effect: Tracker datetimes are parsed with a fixed layout")
	}
	if set["EXPORTER_DATETIME_CLICKHOUSE_FORMAT"] && cfg.DatetimeClickhouseFormat != d.DatetimeClickhouseFormat {
		out = append(out, "EXPORTER_DATETIME_CLICKHOUSE_FORMAT: accepted for compatibility, no effect: rows carry typed times")
	}
	if set[varPerPageLimit] && set[varScrollPageSize] && cfg.Tracker.SearchPerPageLimit != cfg.Extractor.ScrollPageSize {
		out = append(out, varPerPageLimit+": ignored: "+varScrollPageSize+" sets the search page size (issues are searched with scroll pages)")
	}
	if set["EXPORTER_STATE__CUSTOM_STORAGE_PARAMS"] && cfg.State.CustomStorageParams.Reveal() != "{}" {
		out = append(out, "EXPORTER_STATE__CUSTOM_STORAGE_PARAMS: accepted for compatibility, no effect: the custom storage is not supported")
	}
	if ch := cfg.ClickHouse.Config; ch.CACertPath != "" && (ch.Proto == clickhouse.ProtoHTTP || ch.Proto == clickhouse.ProtoNative) {
		out = append(out, "EXPORTER_CLICKHOUSE__CACERT_PATH: accepted for compatibility, no effect: EXPORTER_CLICKHOUSE__PROTO="+
			ch.Proto+" uses no TLS (set https or native+tls to use the CA file)")
	}
	return out
}

// nearest returns the known name closest to name when it is a likely typo.
func nearest(name string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
