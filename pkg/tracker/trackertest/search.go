package trackertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	pageCap          = 10_000
	maxPerPage       = 1000
	defaultPerPage   = 50
	defaultPerScroll = 100
	maxPerScroll     = 1000
	defaultScrollTTL = 60 * time.Second
)

// Search body modes, in precedence order.
const (
	modeNone = iota
	modeQueue
	modeKeys
	modeFilter
	modeQuery
)

func (s *Server) queueList() []queueDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.queues
}

// parseSearch reads the body and query string of _search/_count into
// criteria. A nil error with mode modeNone selects every issue.
func (s *Server) parseSearch(q *req) (*criteria, int, error) {
	raw, err := io.ReadAll(io.LimitReader(q.r.Body, 1<<20))
	if err != nil {
		return nil, 0, qerr("Cannot read request body: %v", err)
	}
	body := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, 0, qerr("Invalid JSON body: %v", err)
		}
	}
	absent := func(m json.RawMessage) bool {
		t := string(bytes.TrimSpace(m))
		return t == "" || t == "null" || t == "{}" || t == `""` || t == "[]"
	}
	var (
		queue, query string
		keys         []string
		filter       map[string]json.RawMessage
		present      []int
	)
	if m, ok := body["queue"]; ok && !absent(m) {
		if err := json.Unmarshal(m, &queue); err != nil {
			return nil, 0, qerr("Invalid value of \"queue\": a queue key string is expected")
		}
		present = append(present, modeQueue)
	}
	if m, ok := body["keys"]; ok && !absent(m) {
		var one string
		if json.Unmarshal(m, &one) == nil {
			keys = strings.Split(one, ",")
		} else if err := json.Unmarshal(m, &keys); err != nil {
			return nil, 0, qerr("Invalid value of \"keys\": a string or an array of strings is expected")
		}
		present = append(present, modeKeys)
	}
	if m, ok := body["filter"]; ok && !absent(m) {
		if err := json.Unmarshal(m, &filter); err != nil {
			return nil, 0, qerr("Invalid value of \"filter\": an object is expected")
		}
		present = append(present, modeFilter)
	}
	if m, ok := body["query"]; ok && !absent(m) {
		if err := json.Unmarshal(m, &query); err != nil {
			return nil, 0, qerr("Invalid value of \"query\": a string is expected")
		}
		present = append(present, modeQuery)
	}
	if m, ok := body["filterId"]; ok && !absent(m) && len(present) == 0 {
		return nil, 0, qerr("Saved filters (filterId) are not supported by the emulator")
	}
	if len(present) >= 3 {
		return nil, 0, qerr("You can only use keys, a queue, or a search query")
	}
	var order []string
	if m, ok := body["order"]; ok && !absent(m) {
		var one string
		if json.Unmarshal(m, &one) == nil {
			order = []string{one}
		} else if err := json.Unmarshal(m, &order); err != nil {
			return nil, 0, qerr("Invalid value of \"order\": a string or an array of strings is expected")
		}
	}
	for _, o := range q.r.URL.Query()["order"] {
		order = append(order, strings.Split(o, ",")...)
	}
	mode := modeNone
	if len(present) > 0 {
		mode = present[0] // appended in precedence order
	}
	var c *criteria
	switch mode {
	case modeQueue:
		c = newCriteria()
		if err := s.addTerm(c, "queue", []qval{{a: operand{kind: 's', text: queue}}}); err != nil {
			return nil, 0, err
		}
		c.sort = []sortSpec{{field: "key"}}
	case modeKeys:
		c = newCriteria()
		for _, k := range keys {
			if k = strings.TrimSpace(k); k != "" {
				c.keys = append(c.keys, k)
			}
		}
		c.sort = []sortSpec{{field: "key"}}
	case modeFilter:
		c, err = s.parseFilter(filter)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range order {
			o = strings.TrimSpace(o)
			desc := strings.HasPrefix(o, "-")
			f, err := sortField(strings.TrimLeft(o, "+-"))
			if err != nil {
				return nil, 0, err
			}
			c.sort = append(c.sort, sortSpec{field: f, desc: desc})
			c.sortGiven = true
		}
	case modeQuery:
		c, err = s.parseQuery(query)
		if err != nil {
			return nil, 0, err
		}
	default:
		c = newCriteria()
	}
	if !c.sortGiven && len(c.sort) == 0 {
		c.sort = []sortSpec{{field: "key"}}
	}
	return c, mode, nil
}

// parseFilter compiles a filter object: {"field": value | [values] |
// {"from": x, "to": y}}.
func (s *Server) parseFilter(filter map[string]json.RawMessage) (*criteria, error) {
	c := newCriteria()
	names := make([]string, 0, len(filter))
	for k := range filter {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, field := range names {
		raw := filter[field]
		fname := strings.ToLower(field)
		switch fname {
		case "updatedat", "createdat", "resolvedat":
			fname = strings.TrimSuffix(fname, "at")
		case "keys":
			fname = "key"
		}
		var rng struct {
			From *json.RawMessage `json:"from"`
			To   *json.RawMessage `json:"to"`
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
			if err := json.Unmarshal(raw, &rng); err != nil {
				return nil, qerr("Invalid value of filter field %q", field)
			}
			for _, part := range []struct {
				m  *json.RawMessage
				op string
			}{{rng.From, ">="}, {rng.To, "<="}} {
				if part.m == nil || string(*part.m) == "null" {
					continue
				}
				o, err := filterOperand(*part.m)
				if err != nil {
					return nil, qerr("Invalid value of filter field %q: %v", field, err)
				}
				if err := s.addTerm(c, fname, []qval{{op: part.op, a: o, field: field}}); err != nil {
					return nil, err
				}
			}
			continue
		}
		var list []json.RawMessage
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, qerr("Invalid value of filter field %q", field)
			}
		} else {
			list = []json.RawMessage{raw}
		}
		vals := make([]qval, 0, len(list))
		for _, m := range list {
			o, err := filterOperand(m)
			if err != nil {
				return nil, qerr("Invalid value of filter field %q: %v", field, err)
			}
			vals = append(vals, qval{a: o, field: field})
		}
		if len(vals) == 0 {
			continue
		}
		if err := s.addTerm(c, fname, vals); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func filterOperand(m json.RawMessage) (operand, error) {
	var str string
	if err := json.Unmarshal(m, &str); err != nil {
		var n json.Number
		if err := json.Unmarshal(m, &n); err != nil {
			return operand{}, errors.New("a string or a number is expected")
		}
		str = n.String()
	}
	if name, ok := strings.CutSuffix(strings.TrimSpace(str), "()"); ok {
		return operand{kind: 'f', text: strings.ToLower(name)}, nil
	}
	return operand{kind: 's', text: str}, nil
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
	out := make([]int32, 0, min(b-a+len(extras), 1<<16))
	var cheap, full []pred
	for _, p := range c.preds {
		if p.full {
			full = append(full, p)
		} else {
			cheap = append(cheap, p)
		}
	}
	match := func(v *view) bool {
		for _, p := range cheap {
			if !p.fn(v) {
				return false
			}
		}
		for _, p := range full {
			if !p.fn(v) {
				return false
			}
		}
		return true
	}
	var v view
	e := 0
	emitExtras := func(limit int64, inclusive bool) {
		for ; e < len(extras); e++ {
			x := extras[e]
			if x.updatedAt > limit || (!inclusive && x.updatedAt == limit) {
				return
			}
			if x.updatedAt < c.updLo || x.updatedAt > c.updHi || len(gone) > 0 && gone[x.ref] != goneVisible {
				continue
			}
			v = view{s: s, ref: x.ref, iss: x}
			if match(&v) {
				out = append(out, x.ref)
			}
		}
	}
	for i := a; i < b; i++ {
		if len(touched) > 0 && touched[int32(i)] != nil || len(gone) > 0 && gone[int32(i)] != goneVisible {
			continue
		}
		if len(extras) > 0 {
			emitExtras(s.updatedOf(i), false)
		}
		v = view{s: s, ref: int32(i)}
		if match(&v) {
			out = append(out, int32(i))
		}
	}
	emitExtras(c.updHi, true)
	return out
}

type sortKey struct {
	ref     int32
	updated int64
	created int64
	queue   string
	num     int
}

func (s *Server) sortRefs(refs []int32, spec []sortSpec) {
	if len(spec) == 0 || (len(spec) == 1 && spec[0].field == "updated" && !spec[0].desc) {
		return // natural order
	}
	if len(spec) == 1 && spec[0].field == "updated" {
		slices.Reverse(refs)
		return
	}
	keys := make([]sortKey, len(refs))
	for i, ref := range refs {
		v := view{s: s, ref: ref}
		if ref < 0 {
			v.iss = s.issueByRef(ref, false)
		} else if t := s.touchedIssue(int(ref)); t != nil {
			v.iss = t
		}
		k := sortKey{ref: ref}
		for _, sp := range spec {
			switch sp.field {
			case "updated":
				k.updated = v.updated()
			case "created":
				k.created = v.created()
			case "key":
				key := v.key()
				dash := strings.LastIndexByte(key, '-')
				k.queue = key[:dash]
				k.num, _ = strconv.Atoi(key[dash+1:])
			}
		}
		keys[i] = k
	}
	slices.SortStableFunc(keys, func(x, y sortKey) int {
		for _, sp := range spec {
			c := 0
			switch sp.field {
			case "updated":
				c = cmpInt(x.updated, y.updated)
			case "created":
				c = cmpInt(x.created, y.created)
			case "key":
				c = strings.Compare(x.queue, y.queue)
				if c == 0 {
					c = cmpInt(int64(x.num), int64(y.num))
				}
			}
			if sp.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmpInt(int64(x.ref), int64(y.ref))
	})
	for i := range keys {
		refs[i] = keys[i].ref
	}
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

func (q *req) badRequest(err error) {
	var qe *queryError
	if errors.As(err, &qe) {
		q.fail(http.StatusBadRequest, qe.msg)
		return
	}
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

// scroll is the snapshot of one scroll search. By default every page has
// its own scroll id (the scroll's key plus the page number), so re-sending
// an id returns the same page again: retries are safe. With
// Options.ScrollCursor the id is the scroll's key plus page 0 on every page
// and pos, guarded by scrollMu, is the page the next request gets.
type scroll struct {
	refs     []int32
	per      int
	ttl      time.Duration
	expires  time.Time
	firstURL string
	pos      int
}

func scrollID(key uint64, page int) string {
	b := make([]byte, 0, 24)
	b = appendHex(b, key, 16)
	return string(appendHex(b, uint64(page), 8))
}

func scrollToken(key uint64, page int) string {
	return string(appendHex(nil, mix(key, uint64(page)), 16))
}

func parseScrollID(id string) (key uint64, page int, ok bool) {
	if len(id) != 24 {
		return 0, 0, false
	}
	k, err1 := strconv.ParseUint(id[:16], 16, 64)
	p, err2 := strconv.ParseUint(id[16:], 16, 32)
	return k, int(p), err1 == nil && err2 == nil
}

func (s *Server) scrollStart(q *req, c *criteria, sorted bool, params url.Values) {
	per, err := intParam(params, "perScroll", defaultPerScroll, 1, maxPerScroll)
	if err != nil {
		q.badRequest(err)
		return
	}
	ttlMS, err := intParam(params, "scrollTTLMillis", int(defaultScrollTTL/time.Millisecond), 1, 1<<31-1)
	if err != nil {
		q.badRequest(err)
		return
	}
	var refs []int32
	if c.keys == nil && !sorted {
		refs = s.scan(c)
		s.unsortedOrder(refs)
	} else {
		refs = s.collect(c)
	}
	first := url.Values{}
	for k, v := range params {
		first[k] = v
	}
	sc := &scroll{
		refs: refs, per: per, ttl: time.Duration(ttlMS) * time.Millisecond,
		firstURL: q.api + "/issues/_search?" + first.Encode(),
	}
	now := time.Now()
	s.scrollMu.Lock()
	for k, old := range s.scrolls {
		if now.After(old.expires) {
			delete(s.scrolls, k)
		}
	}
	s.scrollSeq++
	key := mix(s.seed^saltScroll, s.scrollSeq)
	sc.expires = now.Add(sc.ttl)
	sc.pos = 1
	s.scrolls[key] = sc
	s.scrollMu.Unlock()
	s.scrollPage(q, sc, key, 0, time.Duration(ttlMS)*time.Millisecond)
}

func (s *Server) scrollNext(q *req, id string, params url.Values) {
	key, page, ok := parseScrollID(id)
	if s.opts.ScrollCursor && page != 0 {
		ok = false // cursor ids always carry page 0
	}
	now := time.Now()
	s.scrollMu.Lock()
	sc := s.scrolls[key]
	if ok && sc != nil && now.After(sc.expires) {
		delete(s.scrolls, key)
		sc = nil
	}
	var ttl time.Duration
	if sc != nil {
		if v := params.Get("scrollTTLMillis"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				sc.ttl = time.Duration(n) * time.Millisecond
			}
		}
		sc.expires = now.Add(sc.ttl)
		ttl = sc.ttl
		if s.opts.ScrollCursor && ok {
			// The request consumes the page at the cursor, whether or not
			// its answer reaches the client.
			page = sc.pos
			if page*sc.per < len(sc.refs) {
				sc.pos++
			}
		}
	}
	s.scrollMu.Unlock()
	if !ok || sc == nil || page*sc.per > len(sc.refs) || (page > 0 && page*sc.per == len(sc.refs)) {
		q.fail(http.StatusNotFound, "Scroll "+id+" not found or expired")
		return
	}
	s.scrollPage(q, sc, key, page, ttl)
}

// scrollPage serves one page; sc.refs, sc.per and sc.firstURL never change,
// ttl is read under scrollMu by the caller.
func (s *Server) scrollPage(q *req, sc *scroll, key uint64, page int, ttl time.Duration) {
	start := page * sc.per
	end := min(start+sc.per, len(sc.refs))
	h := q.w.Header()
	h.Set("X-Total-Count", strconv.Itoa(len(sc.refs)))
	h.Add("Link", "<"+sc.firstURL+">; rel=\"first\"")
	if end < len(sc.refs) {
		next := page + 1
		if s.opts.ScrollCursor {
			next = 0 // one id for the whole scroll
		}
		id, tok := scrollID(key, next), scrollToken(key, next)
		h.Set("X-Scroll-Id", id)
		h.Set("X-Scroll-Token", tok)
		h.Add("Link", "<"+q.api+"/issues/_search?scrollId="+id+"&scrollToken="+tok+
			"&scrollTTLMillis="+strconv.FormatInt(ttl.Milliseconds(), 10)+">; rel=\"next\"")
	}
	q.writeJSON(http.StatusOK, s.renderIssues(q.refs, sc.refs[start:end]), true)
}

func (s *Server) handleScrollClear(q *req) {
	raw, err := io.ReadAll(io.LimitReader(q.r.Body, 1<<20))
	if err != nil {
		q.fail(http.StatusBadRequest, "Cannot read request body")
		return
	}
	body := map[string]string{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			q.fail(http.StatusBadRequest, "Invalid JSON body: a map of scrollId to scrollToken is expected")
			return
		}
	}
	s.scrollMu.Lock()
	for k, v := range body {
		id := k
		if k == "scrollId" {
			id = v
		}
		if key, _, ok := parseScrollID(id); ok {
			delete(s.scrolls, key)
		}
	}
	s.scrollMu.Unlock()
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusOK)
}
