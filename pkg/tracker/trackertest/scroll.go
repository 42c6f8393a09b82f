package trackertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

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
