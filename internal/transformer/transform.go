package transformer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Rules is the transform configuration: everything besides the snapshot
// that decides the rows. It is read-only once built and safe to share.
type Rules struct {
	// Flow carries type overrides, closed statuses and the calendar; its
	// Statuses are completed per snapshot from the snapshot's directory.
	Flow flow.Rules
	// ChangelogEnabled produces issues_changelog rows.
	ChangelogEnabled bool
	// Generation fingerprints the configuration (see Fingerprint).
	Generation string
	// CustomFields land in their own issues columns.
	CustomFields []CustomField
	// Sprints produces issue_sprints rows (the issue's stays in sprints,
	// from its changelog).
	Sprints bool
}

// Result is the rows of one snapshot plus what was noticed on the way.
type Result struct {
	Rows            *wire.IssueRows
	Anomalies       int
	UnknownUsers    int
	UnknownStatuses []string
}

// Transform turns one raw snapshot into its rows. It is pure: asOf is the
// clock. An undecodable issue is a permanent error; undecodable changelog
// entries are skipped and counted as anomalies. The steps: decode the API
// JSON, build the status history (pkg/flow), then the rows of each table.
// The rows share memory with the snapshot's JSON (text is not copied out
// of it): snap must not be modified while they are in use.
func Transform(snap *wire.IssueSnapshot, r *Rules, asOf time.Time) (Result, error) {
	var res Result
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	d, err := decode(snap, sc, &res)
	if err != nil {
		return res, err
	}
	asOf = asOf.UTC()
	h := buildHistory(snap, d, r, asOf, sc)
	res.Anomalies += len(h.fr.Anomalies)
	res.UnknownStatuses = h.fr.UnknownStatuses
	users := userRenderer{snap: snap, res: &res}
	out := &wire.IssueRows{
		IssueID:       snap.IssueID,
		IssueKey:      d.issue.Key,
		SourceVersion: snap.SourceVersion(),
		TransformedAt: asOf,
		Generation:    r.Generation,
		Issue:         issueRow(snap, d, h, r, &users, &res),
		Metrics:       metricRows(snap, d, h),
		Statuses:      statusesOf(snap, h),
	}
	out.Intervals = intervalRows(snap, d, h, out.Issue.Queue)
	if r.ChangelogEnabled {
		out.Changelog = changelogRows(snap, d, &users)
	}
	entityRows(snap, d, &users, &res, out)
	if !r.Sprints {
		out.Sprints = nil
	}
	out.Issue.Anomalies = uint32(res.Anomalies)
	res.Rows = out
	return res, nil
}

// scratch is the memory one Transform works in, kept for the next.
type scratch struct {
	entries     entryDecoder
	list        []entry
	transitions []flow.Transition
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release empties the scratch (nothing of a snapshot stays reachable)
// and puts it back in the pool.
func (sc *scratch) release() {
	sc.entries.reset()
	clear(sc.list)
	sc.list = sc.list[:0]
	clear(sc.transitions)
	sc.transitions = sc.transitions[:0]
	scratchPool.Put(sc)
}

// decoded is the API JSON of a snapshot, decoded.
type decoded struct {
	issue   tracker.Issue
	entries []entry
	// refs are the references read in the entries' values (fieldChange).
	refs []keptRef
}

// decode reads the issue and its changelog entries; an entry that does not
// decode is skipped and counted as an anomaly.
func decode(snap *wire.IssueSnapshot, sc *scratch, res *Result) (*decoded, error) {
	d := &decoded{entries: sc.list[:0]}
	is, err := decodeIssue(snap.Issue)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", snap.IssueKey, err)
	}
	d.issue = is
	ed := &sc.entries
	for _, raw := range snap.Changelog {
		e, ok := ed.decode(raw)
		if !ok {
			res.Anomalies++
			continue
		}
		d.entries = append(d.entries, e)
	}
	d.refs = ed.refs
	sc.list = d.entries
	return d, nil
}

// history is an issue's status history and what flow made of it.
type history struct {
	rules flow.Rules
	fr    flow.Result
	// moves are the IssueMoved entries, oldest first.
	moves []*entry
}

// buildHistory gathers the transitions of the changelog and computes the
// visits and figures, with the snapshot's status directory completed by
// the names in the references for statuses it does not know.
func buildHistory(snap *wire.IssueSnapshot, d *decoded, r *Rules, asOf time.Time, sc *scratch) history {
	h := history{rules: r.Flow}
	names := map[string]string{}
	note := func(ref *tracker.Ref) {
		if ref != nil && ref.Key != "" && names[ref.Key] == "" {
			names[ref.Key] = ref.Label()
		}
	}
	note(d.issue.Status)
	in := flow.Input{CreatedAt: d.issue.CreatedAt.Time, AsOf: asOf, CurrentStatusSince: d.issue.StatusStartTime.Time,
		Transitions: sc.transitions[:0]} // flow.Compute keeps none of them
	if d.issue.Status != nil {
		in.CurrentStatus = d.issue.Status.Key
	}
	for i := range d.entries {
		e := &d.entries[i]
		if e.typ == "IssueMoved" {
			h.moves = append(h.moves, e)
		}
		addTransition(&in, e, d.refs, i, note)
	}
	h.rules.Statuses = statusDirectory(snap, names)
	typeCurrent(h.rules.Statuses, in.CurrentStatus, d.issue.StatusType)
	h.fr = flow.Compute(in, &h.rules)
	sc.transitions = in.Transitions
	return h
}

// addTransition adds the status change of one changelog entry, if it has
// one, to the flow input. The IssueCreated entry's (with no "from") sets
// the initial status instead (METRICS.md §1); another entry without a
// "from" is a transition from whatever the status was.
func addTransition(in *flow.Input, e *entry, refs []keptRef, seq int, note func(*tracker.Ref)) {
	from, to, start, ok := statusChange(e, refs)
	if !ok {
		return
	}
	note(from)
	note(to)
	if e.typ == "IssueCreated" && from == nil {
		if in.InitialStatus == "" && to != nil && len(in.Transitions) == 0 {
			in.InitialStatus = to.Key
		}
		return
	}
	at := start
	if at.IsZero() {
		at = e.updatedAt
	}
	t := flow.Transition{At: at, Seq: seq}
	if from != nil {
		t.From = from.Key
	}
	if to != nil {
		t.To = to.Key
	}
	in.Transitions = append(in.Transitions, t)
}

// statusChange reads the status field (and the status start time) of an
// entry; ok is false when the entry does not change the status.
func statusChange(e *entry, refs []keptRef) (from, to *tracker.Ref, start time.Time, ok bool) {
	for i := range e.fields {
		f := &e.fields[i]
		switch f.id {
		case "status":
			ok = true
			from, to = refAt(f.from, f.fromRef, refs), refAt(f.to, f.toRef, refs)
		case "statusStartTime":
			// As tracker.Time.UnmarshalJSON: a value that is not a
			// datetime leaves the time as it was.
			if t, tok := timeValue(f.to); tok {
				start = t
			}
		}
	}
	return from, to, start, ok
}

// typeCurrent gives the current status the type the issue itself names
// (statusType, on v3 issues) when the directory has none for it.
func typeCurrent(dir map[string]flow.StatusInfo, current string, typ *tracker.Ref) {
	if current == "" || typ == nil || typ.Key == "" {
		return
	}
	if s := dir[current]; s.Type == "" {
		s.Key, s.Type = current, typ.Key
		dir[current] = s
	}
}

// statusDirectory is the snapshot's status directory, completed with the
// names the references give for statuses it does not know (or names).
func statusDirectory(snap *wire.IssueSnapshot, names map[string]string) map[string]flow.StatusInfo {
	dir := make(map[string]flow.StatusInfo, len(snap.Statuses)+len(names))
	for k, s := range snap.Statuses {
		dir[k] = flow.StatusInfo{Key: k, Name: s.Name, Type: s.Type}
	}
	for k, n := range names {
		if s, ok := dir[k]; !ok {
			dir[k] = flow.StatusInfo{Key: k, Name: n}
		} else if s.Name == "" {
			s.Name = n
			dir[k] = s
		}
	}
	return dir
}

// issueRow is the issues row: the old tool's columns from the issue, then
// the figures of its history.
func issueRow(snap *wire.IssueSnapshot, d *decoded, h history, r *Rules, users *userRenderer, res *Result) wire.IssueRow {
	is := &d.issue
	row := wire.IssueRow{
		IssueID:        snap.IssueID,
		IssueKey:       is.Key,
		Queue:          keyOf(is.Queue),
		Title:          is.Summary,
		IssueType:      flow.SnakeCase(label(is.Type)),
		Priority:       flow.Lower(label(is.Priority)),
		Status:         flow.SnakeCase(label(is.Status)),
		StatusKey:      keyOf(is.Status),
		Resolution:     flow.SnakeCase(label(is.Resolution)),
		Assignee:       users.email(is.Assignee),
		Author:         users.email(is.CreatedBy),
		QAEngineer:     users.email(is.QAEngineer),
		Tags:           nonNil(is.Tags),
		Components:     labels(is.Components),
		CreatedAt:      is.CreatedAt.Time,
		UpdatedAt:      is.UpdatedAt.Time,
		Deadline:       date(is.Deadline),
		ResolvedAt:     is.ResolvedAt.Time,
		StartDate:      date(is.Start),
		EndDate:        date(is.End),
		IsSubtask:      is.Parent != nil && is.Parent.Key != "",
		IsResolved:     is.Resolution != nil && (is.Resolution.Key != "" || is.Resolution.ID != ""),
		Sprints:        labels(is.Sprint),
		ParentIssueKey: keyOf(is.Parent),
		EpicIssueKey:   keyOf(is.Epic),
		Aliases:        nonNil(is.Aliases),
		Raw:            string(snap.Issue),
	}
	if row.StatusKey != "" {
		info, _, _ := h.rules.Status(row.StatusKey)
		row.StatusType = info.Type
	}
	var badCustom int
	row.Custom, badCustom = customValues(snap.Issue, r.CustomFields, users)
	res.Anomalies += badCustom
	row.Spent = timeSpent(is, "spent", res)
	row.Estimation = timeSpent(is, "estimation", res)
	row.OriginalEstimation = timeSpent(is, "originalEstimation", res)
	row.IsDeleted, row.DeletedDetectedAt = snap.Deleted, deletedAt(snap)
	if is.StoryPoints != nil {
		row.StoryPoints = *is.StoryPoints
	}
	if is.Project != nil {
		row.Project = flow.Lower(is.Project.Primary.Label())
	}
	if len(h.moves) > 0 {
		last := h.moves[len(h.moves)-1]
		row.WasMoved, row.MovedAt, row.MovedBy = true, last.updatedAt, users.email(&last.updatedBy)
	}
	applyFigures(&row, h.fr.Issue)
	return row
}

// applyFigures sets the issue-level flow figures (METRICS.md §5).
func applyFigures(row *wire.IssueRow, fig flow.IssueFigures) {
	// As 2.0.0: closed when the status is final or the issue is resolved
	// (closed_at is then resolved_at).
	row.IsClosed = fig.Final || row.IsResolved
	row.StartedAt = deref(fig.StartedAt)
	row.DoneAt = deref(fig.DoneAt)
	row.LeadTime, row.LeadTimeBusiness = fig.LeadTime, fig.LeadBusiness
	row.CycleTime, row.CycleTimeBusiness = fig.CycleTime, fig.CycleBusiness
	row.ActiveTime, row.PausedTime = fig.ActiveTime, fig.PausedTime
	row.FlowEfficiency = fig.FlowEfficiency
	row.ReopenCount = uint32(fig.ReopenCount)
	row.CurrentStatusSince, row.CurrentStatusAge = fig.CurrentStatusSince, fig.CurrentStatusAge
	row.ClosedAt = row.DoneAt
	if row.IsResolved && !row.ResolvedAt.IsZero() {
		row.ClosedAt = row.ResolvedAt
	}
}

// metricRows are the issue_metrics rows: one per visited status.
func metricRows(snap *wire.IssueSnapshot, d *decoded, h history) []wire.MetricRow {
	var out []wire.MetricRow
	if len(h.fr.Statuses) > 0 {
		out = make([]wire.MetricRow, 0, len(h.fr.Statuses))
	}
	for _, m := range h.fr.Statuses {
		out = append(out, wire.MetricRow{
			IssueID: snap.IssueID, IssueKey: d.issue.Key,
			StatusName: m.Name, StatusKey: m.Key, StatusType: m.Type,
			StatusTransitionsCount:       uint32(m.Visits),
			Duration:                     m.Duration,
			HumanReadableDuration:        flow.HumanDuration(m.Duration),
			BusdaysDuration:              m.Business,
			HumanReadableBusdaysDuration: flow.HumanDuration(m.Business),
			LastSeen:                     m.LastSeen,
			IsCurrent:                    m.IsCurrent,
		})
	}
	return out
}

// intervalRows are the issue_status_intervals rows: one per visit.
func intervalRows(snap *wire.IssueSnapshot, d *decoded, h history, queue string) []wire.IntervalRow {
	var out []wire.IntervalRow
	if len(h.fr.Visits) > 0 {
		out = make([]wire.IntervalRow, 0, len(h.fr.Visits))
	}
	for _, v := range h.fr.Visits {
		out = append(out, wire.IntervalRow{
			IssueID: snap.IssueID, IssueKey: d.issue.Key, Queue: queue,
			StatusName: v.Name, StatusKey: v.StatusKey, StatusType: v.Type,
			VisitNumber: uint32(v.Number), EnteredAt: v.Entered, LeftAt: v.Left,
			Duration: v.Duration, BusdaysDuration: v.Business, IsCurrent: v.IsCurrent,
		})
	}
	return out
}

// statusesOf is the directory entries of the statuses the issue visited,
// for the statuses dimension.
func statusesOf(snap *wire.IssueSnapshot, h history) []wire.Status {
	var out []wire.Status
	for _, m := range h.fr.Statuses {
		if s, ok := snap.Statuses[m.Key]; ok {
			out = append(out, s)
		}
	}
	return out
}

// changelogRows renders one row per changed field, losslessly.
func changelogRows(snap *wire.IssueSnapshot, d *decoded, users *userRenderer) []wire.ChangelogRow {
	is, entries := &d.issue, d.entries
	n := 0
	for i := range entries {
		n += len(entries[i].fields)
	}
	if n == 0 {
		return nil
	}
	rows := make([]wire.ChangelogRow, 0, n)
	queue := keyOf(is.Queue)
	for i := range entries {
		e := &entries[i]
		actor := users.actor(&e.updatedBy)
		for j := range e.fields {
			f := &e.fields[j]
			rows = append(rows, wire.ChangelogRow{
				IssueID: snap.IssueID, IssueKey: is.Key, Queue: queue,
				EntryID: e.id, FieldIndex: uint16(j),
				EventTime: e.updatedAt, EventType: e.typ, Transport: e.transport,
				Actor:        actor,
				ChangedField: f.id, FieldDisplay: f.label,
				ChangedFrom: users.fieldValue(f.from, f.fromRef, d.refs), ChangedTo: users.fieldValue(f.to, f.toRef, d.refs),
			})
		}
	}
	return rows
}

// userRenderer turns user references into the old tool's lower-cased
// emails, counting references the directory does not know.
type userRenderer struct {
	snap *wire.IssueSnapshot
	res  *Result
}

// email is a person column of the old tool (assignee, author,
// qa_engineer, moved_by): the user's email lower-cased as Python did, ""
// when the user has none or the directory does not know the user.
func (u *userRenderer) email(r *tracker.Ref) string {
	usr, ok := u.user(r)
	if !ok {
		return ""
	}
	return flow.Lower(usr.Email)
}

// person names a user in changelog values, the changelog actor and custom
// fields: the email, else the login, lower-cased; "" when the directory
// does not know the user.
func (u *userRenderer) person(r *tracker.Ref) string {
	usr, ok := u.user(r)
	if !ok {
		return ""
	}
	if usr.Email != "" {
		return flow.Lower(usr.Email)
	}
	return flow.Lower(usr.Login)
}

// actor names who did something: the person, else the reference's
// display name (a user the directory does not know, such as a deleted one).
func (u *userRenderer) actor(r *tracker.Ref) string {
	if p := u.person(r); p != "" || r == nil {
		return p
	}
	return r.Label()
}

// user looks a reference up in the snapshot's users directory, counting
// the references it does not know.
func (u *userRenderer) user(r *tracker.Ref) (wire.User, bool) {
	if r == nil || r.ID == "" {
		return wire.User{}, false
	}
	usr, ok := u.snap.Users[r.ID.String()]
	if !ok {
		u.res.UnknownUsers++
	}
	return usr, ok
}

// value renders a changelog value: null → "", string as is, number as
// text, reference → key, user email or display, array → JSON array of the
// rendered items, any other object → its JSON. The value was checked as
// part of its entry; what the cursor does not handle is rendered by
// valueSlow, the same rules with encoding/json.
func (u *userRenderer) value(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	c := cursor{b: v}
	switch v[0] {
	case '"':
		if s := c.str(); !c.bad {
			return s
		}
	case '{':
		r := c.ref()
		if c.end(); !c.bad {
			return u.object(&r, v)
		}
	case '[':
		c.skip()
		if c.end(); !c.bad {
			return u.array(v)
		}
	default:
		return string(v)
	}
	return u.valueSlow(v)
}

// fieldValue is value for a changelog value that the decoder kept, if
// it is an object or an array, in refs[k-1]. An issue's values repeat
// (statuses, people, lists of them) and the decoder keeps equal values
// once: each is rendered once, and counts the users its rendering did not
// find every time.
func (u *userRenderer) fieldValue(v []byte, k int32, refs []keptRef) string {
	if k == 0 {
		return u.value(v)
	}
	kr := &refs[k-1]
	if kr.rendered {
		u.res.UnknownUsers += kr.unknown
		return kr.text
	}
	before := u.res.UnknownUsers
	switch {
	case kr.isRef:
		kr.text = u.object(&kr.raw, v)
	case v[0] == '[':
		kr.text = u.array(v) // checked by the decoder
	default:
		kr.text = u.value(v)
	}
	kr.rendered, kr.unknown = true, u.res.UnknownUsers-before
	return kr.text
}

// object renders a reference: a user's person (else display), else the
// key, else the label; an object without self is its JSON.
func (u *userRenderer) object(r *rawRef, v []byte) string {
	present, user := r.selfHas("/users/")
	switch {
	case !present:
		return string(v)
	case user:
		ref := r.lean()
		if e := u.person(&ref); e != "" {
			return e
		}
		return ref.Label()
	}
	if k := text(r.key); k != "" {
		return k
	}
	return r.label()
}

// array renders the items of a checked array as a JSON array of strings.
func (u *userRenderer) array(v []byte) string {
	c := cursor{b: v}
	buf := make([]byte, 0, len(v)+2)
	buf = append(buf, '[')
	c.array()
	for first := true; c.elem(first); first = false {
		if !first {
			buf = append(buf, ',')
		}
		buf = appendQuoted(buf, u.item(&c))
	}
	return ownedString(append(buf, ']'))
}

// item renders the array item at the cursor as value does, reading a
// string (tags, components by name) once instead of skipping it first.
func (u *userRenderer) item(c *cursor) string {
	if c.peek() == '"' {
		sub := *c
		if s := sub.str(); !sub.bad {
			*c = sub
			return s
		}
	}
	return u.value(c.raw())
}

// valueSlow is value with encoding/json.
func (u *userRenderer) valueSlow(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	case '{':
		return u.objectSlow(v)
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) == nil {
			out := make([]string, 0, len(items))
			for _, it := range items {
				out = append(out, u.valueSlow(it))
			}
			b, _ := json.Marshal(out)
			return string(b)
		}
	}
	return string(v)
}

func (u *userRenderer) objectSlow(v json.RawMessage) string {
	var probe struct {
		Self string `json:"self"`
	}
	if json.Unmarshal(v, &probe) != nil {
		return string(v)
	}
	var r tracker.Ref
	if probe.Self == "" || json.Unmarshal(v, &r) != nil {
		return string(v)
	}
	if strings.Contains(r.Self, "/users/") {
		if e := u.person(&r); e != "" {
			return e
		}
		return r.Label()
	}
	if r.Key != "" {
		return r.Key
	}
	return r.Label()
}

// refAt is the reference a changelog value reads as, nil when none. A
// value the decoder kept is not copied: statuses change in every other
// entry of a long history, and the callers only read the reference.
func refAt(v []byte, k int32, refs []keptRef) *tracker.Ref {
	if k > 0 {
		if kr := &refs[k-1]; kr.isRef {
			return &kr.ref
		}
		return nil
	}
	return refPtr(refValue(v, k, refs))
}

// refPtr is the reference, or nil when there is none.
func refPtr(r tracker.Ref, ok bool) *tracker.Ref {
	if !ok {
		return nil
	}
	return &r
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func keyOf(r *tracker.Ref) string {
	if r == nil {
		return ""
	}
	return r.Key
}

func label(r *tracker.Ref) string {
	if r == nil {
		return ""
	}
	return r.Label()
}

func labels(rs []tracker.Ref) []string {
	out := make([]string, 0, len(rs))
	for i := range rs {
		out = append(out, rs[i].Label())
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// date parses a YYYY-MM-DD date; anything else is the zero time.
func date(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Fingerprint is a stable text of the parts of the configuration that
// change rows, used as the rows' generation.
func Fingerprint(parts ...string) string {
	sort.Strings(parts)
	h := uint64(14695981039346656037)
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}
