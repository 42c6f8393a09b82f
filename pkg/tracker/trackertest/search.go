package trackertest

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest/internal/query"
)

const (
	pageCap          = 10_000
	maxPerPage       = 1000
	defaultPerPage   = 50
	defaultPerScroll = 100
	maxPerScroll     = 1000
	defaultScrollTTL = 60 * time.Second
)

func (s *Server) queueList() []queueDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queues
}

// resolve finds an issue by key (current or old) or id.
func (s *Server) resolve(keyOrID string) (int32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resolveLocked(keyOrID)
}

func (s *Server) resolveLocked(keyOrID string) (int32, bool) {
	k := strings.ToUpper(strings.TrimSpace(keyOrID))
	if ref, ok := s.fixtureKeys[k]; ok {
		return ref, true
	}
	if len(keyOrID) == 24 {
		if code, err := strconv.ParseUint(keyOrID[8:16], 16, 32); err == nil {
			if i := int(code); code < fixtureCodeBase && i < s.opts.Issues && s.issueID(s.header(i).created, uint32(code)) == keyOrID {
				return int32(i), true
			}
			if ref, ok := s.fixtureKeys[keyOrID]; ok {
				return ref, true
			}
		}
	}
	dash := strings.LastIndexByte(k, '-')
	if dash <= 0 {
		return 0, false
	}
	num, err := strconv.Atoi(k[dash+1:])
	if err != nil || num < 1 || num > s.opts.Issues {
		return 0, false
	}
	i := num - 1
	orig, cur, moved := s.queuesOf(i)
	if queueDefs[cur].key == k[:dash] || (moved && queueDefs[orig].key == k[:dash]) {
		return int32(i), true
	}
	return 0, false
}

// issueByRef returns the issue of a ref, with its changelog when record.
func (s *Server) issueByRef(ref int32, record bool) *issue {
	if ref < 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.fixtures[-ref-1]
	}
	return s.synthetic(int(ref), record)
}

// collect returns the refs matching c, sorted as c says.
func (s *Server) collect(c *criteria) []int32 {
	var out []int32
	if c.keys != nil {
		seen := map[int32]bool{}
		for _, k := range c.keys {
			if ref, ok := s.resolve(k); ok && !seen[ref] && s.goneState(ref) == goneVisible {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	} else {
		out = s.scan(c)
	}
	s.sortRefs(out, c.sort)
	return out
}

// scan returns the matching refs in natural (updatedAt ascending) order.
func (s *Server) scan(c *criteria) []int32 {
	s.mu.RLock()
	extras, touched, gone := s.extras, s.touched, s.gone
	s.mu.RUnlock()
	n := s.opts.Issues
	a := sort.Search(n, func(i int) bool { return s.updatedOf(i) >= c.updLo })
	b := a + sort.Search(n-a, func(k int) bool { return s.updatedOf(a+k) > c.updHi })
	sc := &scanner{s: s, c: c, extras: extras, gone: gone, preds: cheapFirst(c.preds)}
	sc.out = make([]int32, 0, min(b-a+len(extras), 1<<16))
	for i := a; i < b; i++ {
		if len(touched) > 0 && touched[int32(i)] != nil || len(gone) > 0 && gone[int32(i)] != goneVisible {
			continue
		}
		if len(extras) > 0 {
			sc.emitExtras(s.updatedOf(i), false)
		}
		sc.v = view{s: s, ref: int32(i)}
		if sc.match() {
			sc.out = append(sc.out, int32(i))
		}
	}
	sc.emitExtras(c.updHi, true)
	return sc.out
}

// scanner is one scan: the synthetic issues in updatedAt order, with the
// fixtures and touched issues (extras) merged in by their updatedAt.
type scanner struct {
	s      *Server
	c      *criteria
	extras []*issue
	gone   map[int32]uint8
	preds  []pred
	e      int // the first extra not merged yet
	v      view
	out    []int32
}

// cheapFirst orders predicates so that those reading only the header run
// before those needing the full state.
func cheapFirst(preds []pred) []pred {
	out := make([]pred, 0, len(preds))
	for _, p := range preds {
		if !p.full {
			out = append(out, p)
		}
	}
	for _, p := range preds {
		if p.full {
			out = append(out, p)
		}
	}
	return out
}

func (sc *scanner) match() bool {
	for _, p := range sc.preds {
		if !p.fn(&sc.v) {
			return false
		}
	}
	return true
}

// emitExtras merges the matching extras updated before limit (or at it,
// when inclusive).
func (sc *scanner) emitExtras(limit int64, inclusive bool) {
	c := sc.c
	for ; sc.e < len(sc.extras); sc.e++ {
		x := sc.extras[sc.e]
		if x.updatedAt > limit || (!inclusive && x.updatedAt == limit) {
			return
		}
		if x.updatedAt < c.updLo || x.updatedAt > c.updHi || len(sc.gone) > 0 && sc.gone[x.ref] != goneVisible {
			continue
		}
		sc.v = view{s: sc.s, ref: x.ref, iss: x}
		if sc.match() {
			sc.out = append(sc.out, x.ref)
		}
	}
}

type sortKey struct {
	ref     int32
	updated int64
	created int64
	queue   string
	num     int
}

func (s *Server) sortRefs(refs []int32, spec []query.SortKey) {
	if len(spec) == 0 || (len(spec) == 1 && spec[0].Field == query.Updated && !spec[0].Desc) {
		return // natural order
	}
	if len(spec) == 1 && spec[0].Field == query.Updated {
		slices.Reverse(refs)
		return
	}
	keys := make([]sortKey, len(refs))
	for i, ref := range refs {
		keys[i] = s.sortKeyOf(ref, spec)
	}
	slices.SortStableFunc(keys, func(x, y sortKey) int { return compareSortKeys(&x, &y, spec) })
	for i := range keys {
		refs[i] = keys[i].ref
	}
}

// sortKeyOf reads the values spec sorts ref by.
func (s *Server) sortKeyOf(ref int32, spec []query.SortKey) sortKey {
	v := view{s: s, ref: ref}
	if ref < 0 {
		v.iss = s.issueByRef(ref, false)
	} else if t := s.touchedIssue(int(ref)); t != nil {
		v.iss = t
	}
	k := sortKey{ref: ref}
	for _, sp := range spec {
		switch sp.Field {
		case query.Updated:
			k.updated = v.updated()
		case query.Created:
			k.created = v.created()
		case query.Key:
			key := v.key()
			dash := strings.LastIndexByte(key, '-')
			k.queue = key[:dash]
			k.num, _ = strconv.Atoi(key[dash+1:])
		}
	}
	return k
}

// compareSortKeys orders by spec, then by ref.
func compareSortKeys(x, y *sortKey, spec []query.SortKey) int {
	for _, sp := range spec {
		c := 0
		switch sp.Field {
		case query.Updated:
			c = cmpInt(x.updated, y.updated)
		case query.Created:
			c = cmpInt(x.created, y.created)
		case query.Key:
			c = strings.Compare(x.queue, y.queue)
			if c == 0 {
				c = cmpInt(int64(x.num), int64(y.num))
			}
		}
		if sp.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmpInt(int64(x.ref), int64(y.ref))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// unsortedOrder puts refs in the emulator's storage order for unsorted
// scrolls: deterministic, but deliberately not chronological.
func (s *Server) unsortedOrder(refs []int32) {
	slices.SortFunc(refs, func(x, y int32) int {
		bx, by := mix(s.seed^saltScroll, uint64(x)/64)%16, mix(s.seed^saltScroll, uint64(y)/64)%16
		if bx != by {
			return cmpInt(int64(bx), int64(by))
		}
		return cmpInt(int64(x), int64(y))
	})
}

func intParam(v url.Values, name string, def, lo, hi int) (int, error) {
	str := v.Get(name)
	if str == "" {
		return def, nil
	}
	n, err := strconv.Atoi(str)
	if err != nil || n < lo {
		return 0, qerr("Invalid value of parameter %q: %q", name, str)
	}
	return min(n, hi), nil
}

// badRequest answers 400 with the message of err (a *queryError or a
// *query.Error, whose messages are meant for the client).
func (q *req) badRequest(err error) {
	q.fail(http.StatusBadRequest, err.Error())
}

// renderIssues renders the issues of refs as a JSON array, leaving out
// those deleted or hidden since the refs were collected (a scroll).
func (s *Server) renderIssues(rs *refSet, refs []int32) []byte {
	b := make([]byte, 0, 64+len(refs)*3000)
	b = append(b, '[')
	for _, ref := range refs {
		if s.goneState(ref) != goneVisible {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = s.appendIssue(b, rs, s.issueByRef(ref, false))
	}
	return append(b, ']')
}

func (s *Server) handleSearch(q *req) {
	params := q.r.URL.Query()
	if id := params.Get("scrollId"); id != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(q.r.Body, 1<<20))
		s.scrollNext(q, id, params)
		return
	}
	c, mode, err := s.parseSearch(q)
	if err != nil {
		q.badRequest(err)
		return
	}
	if st := params.Get("scrollType"); st != "" {
		if st != "sorted" && st != "unsorted" {
			q.fail(http.StatusBadRequest, "Invalid value of parameter \"scrollType\": "+strconv.Quote(st))
			return
		}
		if mode == modeQueue || mode == modeKeys {
			q.fail(http.StatusBadRequest, "Scroll is not supported")
			return
		}
		s.scrollStart(q, c, st == "sorted", params)
		return
	}
	perPage, err := intParam(params, "perPage", defaultPerPage, 1, maxPerPage)
	if err != nil {
		q.badRequest(err)
		return
	}
	page, err := intParam(params, "page", 1, 1, 1<<30)
	if err != nil {
		q.badRequest(err)
		return
	}
	startAt := (page - 1) * perPage
	if startAt >= pageCap {
		q.fail(http.StatusBadRequest, "Request exceeds 10000 items limit")
		return
	}
	refs := s.collect(c)
	total := min(len(refs), pageCap)
	pages := (total + perPage - 1) / perPage
	end := min(startAt+perPage, total)
	var pageRefs []int32
	if startAt < end {
		pageRefs = refs[startAt:end]
	}
	h := q.w.Header()
	h.Set("X-Total-Count", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	rest := url.Values{}
	for k, v := range params {
		if k != "page" && k != "perPage" {
			rest[k] = v
		}
	}
	base := q.api + "/issues/_search?"
	if enc := rest.Encode(); enc != "" {
		base += enc + "&"
	}
	base += "perPage=" + strconv.Itoa(perPage)
	link := ""
	if page < pages {
		link = "<" + base + "&page=" + strconv.Itoa(page+1) + ">; rel=\"next\", "
	}
	link += "<" + base + "{&page}>; rel=\"seek\""
	h.Set("Link", link)
	q.writeJSON(http.StatusOK, s.renderIssues(q.refs, pageRefs), true)
}

func (s *Server) handleCount(q *req) {
	c, _, err := s.parseSearch(q)
	if err != nil {
		q.badRequest(err)
		return
	}
	var n int
	if c.keys != nil {
		n = len(s.collect(c))
	} else {
		n = len(s.scan(c))
	}
	q.writeJSON(http.StatusOK, strconv.AppendInt(nil, int64(n), 10), false)
}
