package trackertest

import (
	"math"
	"strconv"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest/internal/query"
)

// Searches: the query language and the filter object are read by package
// query into a plan; compile turns the plan into predicates over issues.

// view gives predicates lazy access to one candidate issue: the cheap
// header facts first, the full state only when asked.
type view struct {
	s   *Server
	ref int32
	iss *issue // materialized, or generated on demand
	hd  *header
}

func (v *view) full() *issue {
	if v.iss == nil {
		v.iss = v.s.synthetic(int(v.ref), false)
	}
	return v.iss
}

func (v *view) updated() int64 {
	if v.iss != nil {
		return v.iss.updatedAt
	}
	return v.s.updatedOf(int(v.ref))
}

func (v *view) header() *header {
	if v.hd == nil {
		h := v.s.header(int(v.ref))
		v.hd = &h
	}
	return v.hd
}

func (v *view) created() int64 {
	if v.iss != nil {
		return v.iss.createdAt
	}
	return v.header().created
}

func (v *view) queue() int {
	if v.iss != nil {
		return v.iss.st.queue
	}
	_, cur, _ := v.s.queuesOf(int(v.ref))
	return cur
}

func (v *view) key() string {
	if v.iss != nil {
		return v.iss.key
	}
	_, cur, _ := v.s.queuesOf(int(v.ref))
	return v.s.synthKey(cur, int(v.ref)+1)
}

func (v *view) alias() string {
	if v.iss != nil {
		return v.iss.alias
	}
	orig, _, moved := v.s.queuesOf(int(v.ref))
	if !moved {
		return ""
	}
	return v.s.synthKey(orig, int(v.ref)+1)
}

// pred is one compiled term.
type pred struct {
	fn   func(v *view) bool
	full bool // needs the full state
}

// criteria is a compiled search: a fast updatedAt range plus predicates,
// or the keys of a keys search, and the order.
type criteria struct {
	updLo, updHi int64 // inclusive
	preds        []pred
	keys         []string // keys mode: only these issues
	sort         []query.SortKey
}

func newCriteria() *criteria {
	return &criteria{updLo: math.MinInt64, updHi: math.MaxInt64}
}

// byKey is the order of searches that ask for none.
var byKey = []query.SortKey{{Field: query.Key}}

// compile turns a plan into criteria.
func (s *Server) compile(p *query.Plan) *criteria {
	c := &criteria{updLo: p.UpdatedFrom, updHi: p.UpdatedTo, sort: p.Sort}
	for _, t := range p.Terms {
		c.preds = append(c.preds, s.termPred(t))
	}
	return c
}

// termPred compiles a term: none of its negated conditions holds and, if
// it has others, one of them does.
func (s *Server) termPred(t query.Term) pred {
	var pos, neg []func(v *view) bool
	for _, c := range t.Conds {
		if c.Neg {
			neg = append(neg, s.condFunc(t.Field, c))
		} else {
			pos = append(pos, s.condFunc(t.Field, c))
		}
	}
	return pred{full: needsFull(t.Field), fn: func(v *view) bool {
		return !anyHolds(neg, v) && (len(pos) == 0 || anyHolds(pos, v))
	}}
}

func anyHolds(fns []func(v *view) bool, v *view) bool {
	for _, f := range fns {
		if f(v) {
			return true
		}
	}
	return false
}

// needsFull tells the fields a view knows only from the full state.
func needsFull(f query.Field) bool {
	switch f {
	case query.Queue, query.Key, query.Updated, query.Created:
		return false
	}
	return true
}

// condFunc compiles one condition on field f.
func (s *Server) condFunc(f query.Field, c query.Cond) func(v *view) bool {
	switch f {
	case query.Queue:
		idx := c.Index
		return func(v *view) bool { return v.queue() == idx }
	case query.Key:
		key := c.Key
		return func(v *view) bool { return v.key() == key || v.alias() == key }
	case query.Status:
		idx := c.Index
		return func(v *view) bool { return v.full().st.status == idx }
	case query.Type:
		idx := c.Index
		return func(v *view) bool { return v.full().st.typ == idx }
	case query.Priority:
		idx := c.Index
		return func(v *view) bool { return v.full().st.prio == idx }
	case query.Assignee:
		return userFunc(c, func(v *view) int { return v.full().st.assignee })
	case query.Author:
		return userFunc(c, func(v *view) int { return v.full().createdBy })
	case query.Tags:
		return tagFunc(c)
	case query.Epic:
		return s.issueFunc(c, func(v *view) int { return v.full().epic })
	case query.Parent:
		return s.issueFunc(c, func(v *view) int { return v.full().parent })
	case query.Updated:
		lo, hi := c.Lo, c.Hi
		return func(v *view) bool { t := v.updated(); return lo <= t && t <= hi }
	case query.Created:
		lo, hi := c.Lo, c.Hi
		return func(v *view) bool { t := v.created(); return lo <= t && t <= hi }
	}
	return resolutionFunc(c) // Resolution, Resolved
}

// userFunc compiles a condition on a user field (-1: none).
func userFunc(c query.Cond, get func(v *view) int) func(v *view) bool {
	switch c.Op {
	case query.Empty:
		return func(v *view) bool { return get(v) < 0 }
	case query.NotEmpty:
		return func(v *view) bool { return get(v) >= 0 }
	}
	u := c.Index
	return func(v *view) bool { return u >= 0 && get(v) == u }
}

func tagFunc(c query.Cond) func(v *view) bool {
	switch c.Op {
	case query.Empty:
		return func(v *view) bool { return len(v.full().st.tags) == 0 }
	case query.NotEmpty:
		return func(v *view) bool { return len(v.full().st.tags) > 0 }
	}
	t := int32(c.Index)
	return func(v *view) bool { return contains(v.full().st.tags, t) }
}

// issueFunc compiles a condition on a field naming a synthetic issue (-1:
// none): epic and parent.
func (s *Server) issueFunc(c query.Cond, get func(v *view) int) func(v *view) bool {
	switch c.Op {
	case query.Empty:
		return func(v *view) bool { return get(v) < 0 }
	case query.NotEmpty:
		return func(v *view) bool { return get(v) >= 0 }
	}
	key := c.Key
	return func(v *view) bool {
		j := get(v)
		if j < 0 {
			return false
		}
		_, cur, _ := s.queuesOf(j)
		return s.synthKey(cur, j+1) == key
	}
}

// resolutionFunc compiles a condition on the resolution (-1: unresolved)
// or on the time it was set.
func resolutionFunc(c query.Cond) func(v *view) bool {
	switch c.Op {
	case query.Empty:
		return func(v *view) bool { return v.full().st.res < 0 }
	case query.NotEmpty:
		return func(v *view) bool { return v.full().st.res >= 0 }
	case query.Range:
		lo, hi := c.Lo, c.Hi
		return func(v *view) bool {
			st := &v.full().st
			return st.res >= 0 && lo <= st.resAt && st.resAt <= hi
		}
	}
	idx := c.Index
	return func(v *view) bool { return v.full().st.res == idx }
}

// catalogDirs are the fixed directories query names resolve against.
var catalogDirs = query.Catalog{
	Statuses:    statusEntries(),
	Types:       namedEntries(issueTypeDefs),
	Priorities:  namedEntries(priorityDefs),
	Resolutions: namedEntries(resolutionDefs),
	Users:       userEntries(),
	Me:          0, // the robot behind the token
	Tags:        tagBank,
}

func statusEntries() []query.Entry {
	out := make([]query.Entry, len(statusDefs))
	for i, d := range statusDefs {
		out[i] = query.Entry{Key: d.key, Names: d.name}
	}
	return out
}

func namedEntries(defs []namedDef) []query.Entry {
	out := make([]query.Entry, len(defs))
	for i, d := range defs {
		out[i] = query.Entry{Key: d.key, Names: d.name}
	}
	return out
}

func userEntries() []query.User {
	out := make([]query.User, len(userDefs))
	for u, d := range userDefs {
		out[u] = query.User{Login: d.login, UID: strconv.FormatInt(userUID(u), 10)}
	}
	return out
}

// catalog returns what searches resolve names against: the directories,
// the queues as they are now (fixtures may add some), Now and the zone.
func (s *Server) catalog() *query.Catalog {
	cat := catalogDirs
	cat.Now, cat.Zone = s.now, s.zone
	qs := s.queueList()
	cat.Queues = make([]string, len(qs))
	for i, q := range qs {
		cat.Queues[i] = q.key
	}
	return &cat
}
