// Package flow computes flow metrics of one issue from its status history:
// the timeline of visits to statuses, time per status in calendar and
// business seconds, and issue-level figures (lead and cycle time, active and
// paused time, flow efficiency, reopens, current-status age).
//
// The rules are those of METRICS.md in the project. The computation is pure:
// the moment of measurement (Input.AsOf) and the calendar (Rules.Calendar)
// are arguments, and nothing is read from the clock or any other source.
//
// All durations are whole seconds: every instant is first truncated to the
// second, so the per-visit figures add up exactly to the per-status and
// per-issue ones.
package flow

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Transition is one status change of an issue, as the changelog records it.
type Transition struct {
	// At is when the status changed: the entry's statusStartTime.to when
	// present, else its updatedAt (the caller decides).
	At time.Time
	// From and To are status keys; From is "" when unknown.
	From, To string
	// Seq is the entry's position in the changelog; it orders transitions
	// that have the same At.
	Seq int
}

// Input is one issue snapshot reduced to what the metrics need.
type Input struct {
	// CreatedAt is when the issue was created; the first visit starts here.
	CreatedAt time.Time
	// InitialStatus is the status the issue was created in (the IssueCreated
	// entry's status "to"). When "", Compute uses the first transition's
	// From, else CurrentStatus.
	InitialStatus string
	// CurrentStatus is the issue's status in the snapshot; it wins over the
	// last transition's To when they differ. "" means unknown.
	CurrentStatus string
	// CurrentStatusSince is when the snapshot says the current status began
	// (the issue's statusStartTime), or zero when unknown. It is used only
	// when CurrentStatus disagrees with the changelog.
	CurrentStatusSince time.Time
	// Transitions are the issue's status changes, in any order.
	Transitions []Transition
	// AsOf is the moment of measurement: open visits are measured up to it.
	AsOf time.Time
}

// Visit is one stay of the issue in a status (a row of
// issue_status_intervals).
type Visit struct {
	StatusKey string `json:"status_key"`
	Name      string `json:"status_name"` // SnakeCase of the display name
	Type      string `json:"status_type"`
	Final     bool   `json:"final"`
	// Number counts the visits to this status, from 1.
	Number  int       `json:"number"`
	Entered time.Time `json:"entered_at"`
	// Left is when the visit ended; zero for the current visit.
	Left time.Time `json:"left_at,omitzero"`
	// Duration and Business are the visit's calendar and business seconds;
	// the current visit is measured up to AsOf.
	Duration  int64 `json:"duration"`
	Business  int64 `json:"business"`
	IsCurrent bool  `json:"is_current"`
}

// StatusMetric sums the visits to one status (a row of issue_metrics).
type StatusMetric struct {
	Key   string `json:"status_key"`
	Name  string `json:"status_name"` // SnakeCase of the display name
	Type  string `json:"status_type"`
	Final bool   `json:"final"`
	// Visits is the number of visits (status_transitions_count).
	Visits int `json:"visits"`
	// Duration and Business sum the completed visits and, when the status
	// is current and not final, the current visit up to AsOf.
	Duration int64 `json:"duration"`
	Business int64 `json:"business"`
	// LastSeen is the end of the latest visit: AsOf while a non-final
	// current visit is open, the entry time for a current final status.
	LastSeen  time.Time `json:"last_seen"`
	IsCurrent bool      `json:"is_current"`
}

// IssueFigures are the issue-level metrics. Nil pointers are empty values.
type IssueFigures struct {
	// CurrentStatus is the status of the current visit.
	CurrentStatus string `json:"current_status"`
	// Final reports whether the current status is final.
	Final bool `json:"final"`
	// StartedAt is the first entry into an inProgress-type status.
	StartedAt *time.Time `json:"started_at"`
	// DoneAt is, when the current status is final, when the issue last
	// became final: the start of the trailing run of final visits (so a
	// move from one final status to another does not change it).
	DoneAt *time.Time `json:"done_at"`
	// LeadTime is DoneAt − CreatedAt; CycleTime is DoneAt − StartedAt.
	LeadTime      *int64 `json:"lead_time"`
	LeadBusiness  *int64 `json:"lead_time_business"`
	CycleTime     *int64 `json:"cycle_time"`
	CycleBusiness *int64 `json:"cycle_time_business"`
	// ActiveTime is the time in inProgress-type statuses (the current visit
	// up to AsOf); PausedTime the time in paused-type statuses from
	// StartedAt on (0 when never started).
	ActiveTime int64 `json:"active_time"`
	PausedTime int64 `json:"paused_time"`
	// FlowEfficiency is ActiveTime / CycleTime for done issues and
	// ActiveTime / (AsOf − StartedAt) for started open ones; nil otherwise
	// or when the denominator is 0. It is not rounded.
	FlowEfficiency *float64 `json:"flow_efficiency"`
	// ReopenCount counts transitions from a final status to a non-final one.
	ReopenCount int `json:"reopen_count"`
	// CurrentStatusSince is when the current visit began; CurrentStatusAge
	// is AsOf minus it, in seconds.
	CurrentStatusSince time.Time `json:"current_status_since"`
	CurrentStatusAge   int64     `json:"current_status_age"`
}

// AnomalyKind names a kind of inconsistency in the input.
type AnomalyKind string

// Anomaly kinds. Each is repaired as described and counted, never hidden.
const (
	// AnomalyAsOfBeforeCreated: AsOf is before CreatedAt; AsOf is taken as
	// CreatedAt.
	AnomalyAsOfBeforeCreated AnomalyKind = "as_of_before_created"
	// AnomalyNoInitialStatus: no initial, first-from or current status; the
	// first visit has the empty key until an entry names a status.
	AnomalyNoInitialStatus AnomalyKind = "no_initial_status"
	// AnomalyReordered: the changelog order is not chronological; the
	// transitions were sorted by time, then by Seq.
	AnomalyReordered AnomalyKind = "reordered"
	// AnomalyBeforeVisitStart: a transition is earlier than the start of the
	// visit it ends (e.g. before CreatedAt); it is moved to that start, which
	// gives a zero-length visit.
	AnomalyBeforeVisitStart AnomalyKind = "before_visit_start"
	// AnomalyAfterAsOf: a transition is later than AsOf; it is moved to AsOf.
	AnomalyAfterAsOf AnomalyKind = "after_as_of"
	// AnomalyFromMismatch: a transition's From is not the timeline's current
	// status. The entry is trusted: the current visit ends at the
	// transition, a zero-length visit to From is recorded, then To starts.
	AnomalyFromMismatch AnomalyKind = "from_mismatch"
	// AnomalyCurrentMismatch: the snapshot's current status differs from the
	// last transition's To. The snapshot wins: the last visit ends at
	// CurrentStatusSince (bounded by that visit's start and AsOf; at its
	// start, a zero-length visit, when unknown) and the current status
	// starts there.
	AnomalyCurrentMismatch AnomalyKind = "current_status_mismatch"
	// AnomalyEmptyTo: a transition has no target status; it is ignored.
	AnomalyEmptyTo AnomalyKind = "empty_to"
)

// Anomaly is one inconsistency found in the input.
type Anomaly struct {
	Kind AnomalyKind `json:"kind"`
	// Seq is the transition's Seq, or -1 when no transition is involved.
	Seq    int    `json:"seq"`
	Detail string `json:"detail"`
}

// Result is everything Compute derives from one issue.
type Result struct {
	// Visits tile [CreatedAt, AsOf] in order, without gaps or overlaps.
	Visits []Visit `json:"visits"`
	// Statuses has one entry per visited status, in first-visit order.
	Statuses  []StatusMetric `json:"statuses"`
	Issue     IssueFigures   `json:"issue"`
	Anomalies []Anomaly      `json:"anomalies"`
	// UnknownStatuses lists, in first-visit order, the visited statuses that
	// neither the directory nor a type override knows (they have no type).
	UnknownStatuses []string `json:"unknown_statuses"`
}

// Compute derives the metrics of one issue. It never fails: inconsistent
// input is repaired and reported in Result.Anomalies. It is safe for
// concurrent use with shared Rules; it does not modify in.
func Compute(in Input, r *Rules) Result {
	in = truncated(in)
	created := in.CreatedAt
	t := timeline{asOf: in.AsOf}
	if t.asOf.Before(created) {
		t.anomaly(AnomalyAsOfBeforeCreated, -1, "as_of %s is before created_at %s", stamp(t.asOf), stamp(created))
		t.asOf = created
	}
	trs := t.sorted(in.Transitions)
	t.cur = initialStatus(in, trs)
	if t.cur == "" {
		t.anomaly(AnomalyNoInitialStatus, -1, "no initial status, no first transition from and no current status")
	}
	t.visits = make([]Visit, 1, len(trs)+2)
	t.visits[0] = Visit{StatusKey: t.cur, Entered: created}
	for _, tr := range trs {
		t.transition(tr)
	}
	t.settle(in.CurrentStatus, in.CurrentStatusSince)

	res := Result{Anomalies: t.anomalies}
	finish(&res, t.visits, created, t.asOf, r)
	return res
}

// truncated is in with its instants truncated to whole seconds, before
// anything is computed (METRICS.md §1): two transitions within one second
// are then ordered by their Seq, and every instant derived is whole. The
// transitions are copied when one has a fraction (in's are not modified).
func truncated(in Input) Input {
	in.CreatedAt = in.CreatedAt.Truncate(time.Second)
	in.AsOf = in.AsOf.Truncate(time.Second)
	in.CurrentStatusSince = in.CurrentStatusSince.Truncate(time.Second)
	for i := range in.Transitions {
		if in.Transitions[i].At.Nanosecond() != 0 {
			trs := slices.Clone(in.Transitions)
			for j := i; j < len(trs); j++ {
				trs[j].At = trs[j].At.Truncate(time.Second)
			}
			in.Transitions = trs
			break
		}
	}
	return in
}

// timeline builds the visits of one issue from its transitions, repairing
// inconsistent input and recording each repair as an anomaly.
type timeline struct {
	asOf      time.Time
	cur       string // the status the transitions applied so far end in
	visits    []Visit
	anomalies []Anomaly
}

// anomaly records an anomaly of the input.
func (t *timeline) anomaly(kind AnomalyKind, seq int, format string, args ...any) {
	t.anomalies = append(t.anomalies, Anomaly{Kind: kind, Seq: seq, Detail: fmt.Sprintf(format, args...)})
}

// sorted returns trs in time order, then Seq order: trs itself when it is
// already, else a sorted copy (an anomaly).
func (t *timeline) sorted(trs []Transition) []Transition {
	if slices.IsSortedFunc(trs, compareTransitions) {
		return trs
	}
	trs = slices.Clone(trs)
	slices.SortStableFunc(trs, compareTransitions)
	t.anomaly(AnomalyReordered, -1, "changelog is not in time order; %d transitions sorted by time", len(trs))
	return trs
}

// initialStatus is the status of the first visit: in.InitialStatus, else
// the From of the first of trs, else in.CurrentStatus ("" when all three
// are).
func initialStatus(in Input, trs []Transition) string {
	cur := in.InitialStatus
	if cur == "" && len(trs) > 0 {
		cur = trs[0].From
	}
	if cur == "" {
		cur = in.CurrentStatus
	}
	return cur
}

// move ends the current visit at at and starts one in status.
func (t *timeline) move(status string, at time.Time) {
	t.visits[len(t.visits)-1].Left = at
	t.visits = append(t.visits, Visit{StatusKey: status, Entered: at})
}

// adopt puts the issue in status from at on; an unknown initial status
// (the only visit so far, with the empty key) is relabelled instead.
func (t *timeline) adopt(status string, at time.Time) {
	if len(t.visits) == 1 && t.visits[0].StatusKey == "" {
		t.visits[0].StatusKey = status // the unknown initial status is now known
		return
	}
	t.move(status, at)
}

// transition applies one transition: the current visit ends and one in
// tr.To begins. A transition without To is ignored; one before the current
// visit began or after asOf is moved to that bound; a From other than the
// current status is trusted (a zero-length visit to it comes first).
func (t *timeline) transition(tr Transition) {
	if tr.To == "" {
		t.anomaly(AnomalyEmptyTo, tr.Seq, "transition at %s from %q has no target status; ignored", stamp(tr.At), tr.From)
		return
	}
	at := tr.At
	if start := t.visits[len(t.visits)-1].Entered; at.Before(start) {
		t.anomaly(AnomalyBeforeVisitStart, tr.Seq, "transition %s→%s at %s is before the %s visit began at %s",
			tr.From, tr.To, stamp(tr.At), t.cur, stamp(start))
		at = start
	}
	if at.After(t.asOf) {
		t.anomaly(AnomalyAfterAsOf, tr.Seq, "transition %s→%s at %s is after as_of %s", tr.From, tr.To, stamp(at), stamp(t.asOf))
		at = t.asOf
	}
	if tr.From != "" && tr.From != t.cur {
		if t.cur != "" {
			t.anomaly(AnomalyFromMismatch, tr.Seq, "transition %s→%s at %s, but the issue was in %s", tr.From, tr.To, stamp(at), t.cur)
		}
		t.adopt(tr.From, at)
	}
	t.move(tr.To, at)
	t.cur = tr.To
}

// settle makes the snapshot's current status (status, since when it began)
// win over the status the transitions end in, when they differ: the last
// visit ends at since, bounded by its start and asOf, and the current
// status begins there. Since zero (unknown), the last visit has zero
// length (METRICS.md §1).
func (t *timeline) settle(status string, since time.Time) {
	if status == "" || status == t.cur {
		return
	}
	if since.After(t.asOf) {
		since = t.asOf
	}
	if start := t.visits[len(t.visits)-1].Entered; since.Before(start) {
		since = start // also when since is zero
	}
	if t.cur != "" {
		t.anomaly(AnomalyCurrentMismatch, -1, "current status is %s but the changelog ends in %s; %s from %s",
			status, t.cur, status, stamp(since))
	}
	t.adopt(status, since)
}

// finish measures the visits and derives the per-status and issue figures.
func finish(res *Result, visits []Visit, created, asOf time.Time, r *Rules) {
	measure(res, visits, asOf, r)
	res.Visits = visits
	issueFigures(&res.Issue, visits, created, asOf, r)
}

// measure completes the visits (status name and type, number, duration;
// the last one is current and measured up to asOf) and sums them per
// status into res.Statuses, in first-visit order.
func measure(res *Result, visits []Visit, asOf time.Time, r *Rules) {
	index := make(map[string]int, 8) // status key → position in res.Statuses
	res.Statuses = make([]StatusMetric, 0, 8)
	last := len(visits) - 1
	for i := range visits {
		v := &visits[i]
		idx, ok := index[v.StatusKey]
		if !ok {
			idx = addStatus(res, v.StatusKey, r)
			index[v.StatusKey] = idx
		}
		m := &res.Statuses[idx]
		m.Visits++
		v.Number = m.Visits
		v.Name, v.Type, v.Final = m.Name, m.Type, m.Final
		end := v.Left
		if i == last {
			end = asOf
			v.Left = time.Time{}
			v.IsCurrent = true
		}
		v.Duration = seconds(v.Entered, end)
		v.Business = business(r, v.Entered, end)
		tally(m, v, asOf)
	}
}

// addStatus appends the metric of the status key, not visited before, to
// res.Statuses (and to res.UnknownStatuses when the rules do not know it)
// and returns its position.
func addStatus(res *Result, key string, r *Rules) int {
	info, final, known := r.Status(key)
	res.Statuses = append(res.Statuses, StatusMetric{
		Key: key, Name: SnakeCase(info.Name), Type: info.Type, Final: final,
	})
	if !known && key != "" {
		res.UnknownStatuses = append(res.UnknownStatuses, key)
	}
	return len(res.Statuses) - 1
}

// tally adds the measured visit v to the metric m of its status: a
// completed visit counts in full, the current one up to asOf unless its
// status is final (then it counts 0).
func tally(m *StatusMetric, v *Visit, asOf time.Time) {
	switch {
	case !v.IsCurrent:
		m.Duration += v.Duration
		m.Business += v.Business
		m.LastSeen = v.Left // visits are in time order
	case v.Final:
		m.LastSeen = v.Entered
		m.IsCurrent = true
	default:
		m.Duration += v.Duration
		m.Business += v.Business
		m.LastSeen = asOf
		m.IsCurrent = true
	}
}

// issueFigures derives the issue-level figures from the measured visits.
func issueFigures(f *IssueFigures, visits []Visit, created, asOf time.Time, r *Rules) {
	cv := &visits[len(visits)-1]
	f.CurrentStatus = cv.StatusKey
	f.Final = cv.Final
	f.CurrentStatusSince = cv.Entered
	f.CurrentStatusAge = seconds(cv.Entered, asOf)
	f.StartedAt = activity(f, visits)
	if cv.Final {
		doneFigures(f, visits, created, r)
	} else if f.StartedAt != nil {
		if d := seconds(*f.StartedAt, asOf); d > 0 {
			f.FlowEfficiency = ptr(float64(f.ActiveTime) / float64(d))
		}
	}
}

// activity sums f.ActiveTime and f.PausedTime and counts f.ReopenCount
// over the visits, and returns when the issue first entered an
// inProgress-type status (nil if never).
func activity(f *IssueFigures, visits []Visit) *time.Time {
	var started *time.Time
	for i := range visits {
		v := &visits[i]
		if v.Type == TypeInProgress {
			if started == nil {
				t := v.Entered
				started = &t
			}
			f.ActiveTime += v.Duration
		}
		if v.Type == TypePaused && started != nil {
			f.PausedTime += v.Duration
		}
		if i > 0 && visits[i-1].Final && !v.Final {
			f.ReopenCount++
		}
	}
	return started
}

// doneFigures sets the figures of an issue whose current status is final:
// DoneAt, the start of the trailing run of final visits; lead time; and,
// when f.StartedAt is set, cycle time and flow efficiency.
func doneFigures(f *IssueFigures, visits []Visit, created time.Time, r *Rules) {
	k := len(visits) - 1
	for k > 0 && visits[k-1].Final {
		k--
	}
	done := visits[k].Entered
	f.DoneAt = &done
	f.LeadTime = ptr(seconds(created, done))
	f.LeadBusiness = ptr(business(r, created, done))
	if started := f.StartedAt; started != nil {
		f.CycleTime = ptr(seconds(*started, done))
		f.CycleBusiness = ptr(business(r, *started, done))
		if *f.CycleTime > 0 {
			f.FlowEfficiency = ptr(float64(f.ActiveTime) / float64(*f.CycleTime))
		}
	}
}

func compareTransitions(a, b Transition) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// seconds returns the whole seconds from a to b (b ≥ a), both truncated to
// the second so that consecutive intervals add up exactly.
func seconds(a, b time.Time) int64 {
	return b.Unix() - a.Unix()
}

func business(r *Rules, a, b time.Time) int64 {
	if r == nil || r.Calendar == nil {
		return 0
	}
	return int64(r.Calendar.Business(time.Unix(a.Unix(), 0), time.Unix(b.Unix(), 0)) / time.Second)
}

func ptr[T any](v T) *T { return &v }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
