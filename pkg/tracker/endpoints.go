package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// SearchRequest selects issues. Exactly one of Query and Filter is used
// (Query wins). Scroll mode is always used so that more than 10 000
// results are never truncated.
type SearchRequest struct {
	Query  string         `json:"query,omitempty"`
	Filter map[string]any `json:"filter,omitempty"`
	// PerScroll is the page size (1..1000, default 1000).
	PerScroll int `json:"-"`
	// Sorted asks for a sorted scroll (the query's "Sort by"); default true.
	Unsorted bool `json:"-"`
	// TTLMillis is the scroll context lifetime (default 60000).
	TTLMillis int `json:"-"`
	// Expand is passed as the expand parameter when set.
	Expand string `json:"-"`
}

// SearchPage is one scroll page.
type SearchPage struct {
	Issues []Issue
	// Total is X-Total-Count, -1 if absent. In scroll mode it is
	// presumed uncapped, but a total of 10 000 may be page mode's cap.
	Total int
}

// Search scrolls through every issue the request matches, calling fn for
// each page in order. It stops at the first error from fn or from Tracker.
//
// The first request (which opens a scroll) is retried like any other. A
// continuation request is re-sent only after a 429, when the server did no
// work: the contract does not say that re-sending a scroll id returns the
// same page, and a server whose scroll id is a cursor would answer a retry
// with the next page, losing one. Any other failure of a continuation
// returns an error wrapping ErrScrollInterrupted (and the cause, e.g.
// ErrNotFound for an expired scroll): the caller restarts the search from
// the last issue it saw. The one exception is a continuation asked for
// after every counted issue arrived, when the count is below 10 000: its
// failure ends the search without an error. A total of 10 000 or more may
// be page mode's cap rather than the count, so the scroll is not known to
// be over and its failure is an interruption too. A scroll that ends
// before delivering X-Total-Count issues returns an error wrapping
// ErrSearchIncomplete after every page was handed to fn. The scroll
// context is released when the iteration ends early.
func (c *Client) Search(ctx context.Context, req SearchRequest, fn func(SearchPage) error) error {
	s, err := c.openScroll(req)
	if err != nil {
		return err
	}
	defer s.release(ctx)
	for page := 1; ; page++ {
		done, err := s.next(ctx, page, fn)
		if done || err != nil {
			return err
		}
	}
}

// scroll is the state of one Search: the body every page re-sends, the
// parameters of the next request, and what the pages have delivered so
// far against the total the first page counted.
type scroll struct {
	c       *Client
	ttl     int
	expand  string
	payload []byte
	query   url.Values
	// collected counts the issues received; total is the first page's
	// X-Total-Count, -1 if absent.
	collected, total int
	// scrollIDs is what release frees: the scroll id of the last page
	// that offered another, none once the server released the scroll.
	scrollIDs []string
}

// openScroll checks req and prepares the first request of its scroll.
func (c *Client) openScroll(req SearchRequest) (*scroll, error) {
	payload, err := searchBody(req)
	if err != nil {
		return nil, err
	}
	per := req.PerScroll
	if per <= 0 || per > 1000 {
		per = 1000
	}
	ttl := req.TTLMillis
	if ttl <= 0 {
		ttl = 60000
	}
	q := url.Values{}
	scrollType := "sorted"
	if req.Unsorted {
		scrollType = "unsorted"
	}
	q.Set("scrollType", scrollType)
	q.Set("perScroll", strconv.Itoa(per))
	q.Set("scrollTTLMillis", strconv.Itoa(ttl))
	if req.Expand != "" {
		q.Set("expand", req.Expand)
	}
	return &scroll{c: c, ttl: ttl, expand: req.Expand, payload: payload, query: q, total: -1}, nil
}

// searchBody is the JSON body of every request of a search: the query,
// else the filter.
func searchBody(req SearchRequest) ([]byte, error) {
	body := map[string]any{}
	if req.Query != "" {
		body["query"] = req.Query
	} else if len(req.Filter) > 0 {
		body["filter"] = req.Filter
	} else {
		return nil, fmt.Errorf("tracker search: neither query nor filter given")
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("tracker search: %w", err)
	}
	return payload, nil
}

// release frees a scroll that the iteration left before its end.
func (s *scroll) release(ctx context.Context) {
	if len(s.scrollIDs) > 0 {
		// Best effort: an ended scroll frees server resources.
		s.c.clearScroll(context.WithoutCancel(ctx), s.scrollIDs)
	}
}

// next fetches page and hands it to fn; done reports the end of the
// search, with err nil when it delivered every issue.
func (s *scroll) next(ctx context.Context, page int, fn func(SearchPage) error) (done bool, err error) {
	issues, resp, err := s.fetch(ctx, page)
	if err != nil {
		return true, s.failed(page, err)
	}
	if page == 1 {
		s.total = totalCount(resp.header)
	}
	s.collected += len(issues)
	if err := fn(SearchPage{Issues: issues, Total: s.total}); err != nil {
		return true, err
	}
	sid := resp.header.Get("X-Scroll-Id")
	if sid == "" || len(issues) == 0 {
		return true, s.ended()
	}
	// With every counted issue collected, one more page is still
	// asked for while the server offers one: a total that the server
	// capped must not cut the export short.
	s.advance(sid, resp.header.Get("X-Scroll-Token"))
	return false, nil
}

// fetch sends the request of page. The first one, which opens the
// scroll, is retried like any other; a continuation only when refused.
func (s *scroll) fetch(ctx context.Context, page int) ([]Issue, *response, error) {
	var issues []Issue
	retryIf := retryable
	if page > 1 {
		retryIf = refused
	}
	resp, err := s.c.doWith(ctx, http.MethodPost, "/issues/_search?"+s.query.Encode(), s.payload, func(r *response) error {
		issues = issues[:0]
		return json.Unmarshal(r.body, &issues)
	}, retryIf)
	return issues, resp, err
}

// recordCap is the 10 000 records that page-mode lists return at most
// (issues, users) and at which page mode caps X-Total-Count. Scroll mode's
// total is only presumed uncapped, so a scroll total this large may be
// the cap rather than the count.
const recordCap = 10_000

// failed is the outcome of a search whose request of page failed with
// err: nil when every counted issue had already arrived and the count
// cannot be a capped one (below recordCap), otherwise an error, wrapping
// ErrScrollInterrupted for a continuation.
func (s *scroll) failed(page int, err error) error {
	switch {
	case page == 1:
		return fmt.Errorf("search page %d: %w", page, err)
	case s.total >= 0 && s.total < recordCap && s.collected >= s.total:
		// Every counted issue arrived, and the count is the real one;
		// this page was only a check.
		s.scrollIDs = nil
		return nil
	default:
		return fmt.Errorf("search page %d after %d issues: %w: %w", page, s.collected, ErrScrollInterrupted, err)
	}
}

// totalCount is X-Total-Count, -1 if absent or not a count.
func totalCount(h http.Header) int {
	if n, err := strconv.Atoi(h.Get("X-Total-Count")); err == nil && n >= 0 {
		return n
	}
	return -1
}

// ended is the outcome of a scroll the server finished: an error wrapping
// ErrSearchIncomplete when it delivered fewer issues than it counted.
func (s *scroll) ended() error {
	s.scrollIDs = nil // the server released a finished scroll
	if s.total >= 0 && s.collected < s.total {
		return fmt.Errorf("%w: the scroll ended after %d of the %d issues the server counted", ErrSearchIncomplete, s.collected, s.total)
	}
	return nil
}

// advance prepares the continuation request of the scroll sid.
func (s *scroll) advance(sid, token string) {
	s.scrollIDs = append(s.scrollIDs[:0], sid)
	q := url.Values{}
	q.Set("scrollId", sid)
	if token != "" {
		q.Set("scrollToken", token)
	}
	q.Set("scrollTTLMillis", strconv.Itoa(s.ttl))
	if s.expand != "" {
		q.Set("expand", s.expand)
	}
	s.query = q
}

func (c *Client) clearScroll(ctx context.Context, ids []string) {
	m := map[string]string{}
	for _, id := range ids {
		m[id] = ""
	}
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	_, _ = c.once(ctx, http.MethodPost, c.prefix+"/system/search/scroll/_clear", b)
}

// Count returns the number of issues a query matches.
func (c *Client) Count(ctx context.Context, query string) (int, error) {
	payload, _ := json.Marshal(map[string]string{"query": query})
	var n int
	_, err := c.do(ctx, http.MethodPost, "/issues/_count", payload, func(r *response) error {
		return json.Unmarshal(r.body, &n)
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// maxPages bounds one cursor pagination: a server whose next links never
// end is an error, not an endless loop.
const maxPages = 100_000

// Changelog returns every changelog entry of an issue, oldest first (see
// pages for how the pages are followed). perPage ≤ 0 means 100.
func (c *Client) Changelog(ctx context.Context, issueKey string, perPage int) ([]ChangelogEntry, error) {
	return c.ChangelogAfter(ctx, issueKey, perPage, "")
}

// ChangelogAfter returns the changelog entries of an issue that follow the
// entry afterID ("": every entry), oldest first, with the documented id
// cursor; a server that reads the cursor otherwise is for the caller to
// notice (the extractor checks the overlap with what it holds).
func (c *Client) ChangelogAfter(ctx context.Context, issueKey string, perPage int, afterID string) ([]ChangelogEntry, error) {
	path := "/issues/" + url.PathEscape(issueKey) + "/changelog"
	if afterID != "" {
		path += "?id=" + url.QueryEscape(afterID)
	}
	var all []ChangelogEntry
	err := c.pages(ctx, "changelog", path, perPage, func(body []byte) (int, error) {
		var entries []ChangelogEntry
		if err := json.Unmarshal(body, &entries); err != nil {
			return 0, err
		}
		all = append(all, entries...)
		return len(entries), nil
	})
	if err != nil {
		return nil, fmt.Errorf("changelog %s %w", issueKey, err)
	}
	return all, nil
}

// pages reads a cursor-paginated list (changelog, comments, worklog),
// handing each page's body to decode, which returns the page's length. It
// follows Link rel="next" while the server gives one (see walk), and stops
// on an empty page, on a page without a next link, and on a page shorter
// than the server's page size, which is the smaller of perPage and the
// longest page the server has returned so far for this kind of list (its
// own cap, if it has one, is at least that). A page of that length with a
// next link is followed, so a server that caps pages below perPage, or
// that links past its last page, never truncates a list. perPage ≤ 0
// means 100.
func (c *Client) pages(ctx context.Context, kind, path string, perPage int, decode func([]byte) (int, error)) error {
	if perPage <= 0 {
		perPage = 100
	}
	longest := c.pageMax(kind)
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	path += sep + "perPage=" + strconv.Itoa(perPage)
	return c.walk(ctx, path, perPage, decode, func(n int, _ http.Header, next string) bool {
		full := min(int64(perPage), longest.Load())
		for seen := longest.Load(); int64(n) > seen && !longest.CompareAndSwap(seen, int64(n)); seen = longest.Load() {
		}
		if per := linkPerPage(next); per > 0 {
			// A page shorter than the size the server's next link states
			// is short by its own word. The link can only lower the bar:
			// one that echoes the asked size of a server that caps lower
			// leaves it at the longest page seen.
			full = min(full, per)
		}
		return n == 0 || next == "" || int64(n) < full
	})
}

// walk GETs a list page by page from path, following Link rel="next": it
// hands each page's body to decode, which returns the page's length, then
// asks last, with that length, the page's headers and its next link (""
// when none), whether the page was the last. A next link is given perPage
// when it has none (perPage > 0). A next link that leads back to a page
// already read, and more than maxPages pages, are errors: links that
// never end do not loop forever.
func (c *Client) walk(ctx context.Context, path string, perPage int, decode func([]byte) (int, error), last func(n int, h http.Header, next string) bool) error {
	read := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxPages {
			return fmt.Errorf("more than %d pages: the server's next links do not end", maxPages)
		}
		if !strings.HasPrefix(path, c.prefix+"/") {
			path = c.prefix + path
		}
		if read[path] {
			return fmt.Errorf("page %d: its next link leads back to a page already read", page-1)
		}
		read[path] = true
		n := 0
		resp, err := c.do(ctx, http.MethodGet, path, nil, func(r *response) (err error) {
			n, err = decode(r.body)
			return err
		})
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		next := links(resp.header)["next"]
		if last(n, resp.header, next) {
			return nil
		}
		path = c.nextPath(next, perPage)
	}
}

// linkPerPage is the perPage a link states, 0 when it states none.
func linkPerPage(link string) int64 {
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(u.Query().Get("perPage"), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// nextPath is the path of a next link, with perPage when the link has
// none and perPage > 0.
func (c *Client) nextPath(next string, perPage int) string {
	p := c.stripBase(pathOf(next))
	if perPage <= 0 || strings.Contains(p, "perPage=") {
		return p
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + "perPage=" + strconv.Itoa(perPage)
}

// pageMax is the longest page seen of one kind of list.
func (c *Client) pageMax(kind string) *atomic.Int64 {
	v, _ := c.pageMaxes.LoadOrStore(kind, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// stripBase removes the base URL's own path (if any) from a link path.
func (c *Client) stripBase(p string) string {
	u, err := url.Parse(c.base)
	if err == nil && u.Path != "" && strings.HasPrefix(p, u.Path+"/") {
		return p[len(u.Path):]
	}
	return p
}

// Statuses returns the status directory, following pages as getList
// does.
func (c *Client) Statuses(ctx context.Context) ([]Status, error) {
	return getList[Status](ctx, c, "/statuses", "statuses")
}

// Users returns the users directory, page by page (perPage 1000 where
// allowed, following X-Total-Pages or Link rel="next"), up to the 10 000
// users that /users returns at most: a page past them is refused, so it
// is not asked for. A larger organization's other users are for the
// caller to look up one by one (User).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var all []User
	const per = 1000
	for page := 1; len(all) < recordCap; page++ {
		var users []User
		resp, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/users?perPage=%d&page=%d", per, page), nil, func(r *response) error {
			users = users[:0]
			return json.Unmarshal(r.body, &users)
		})
		if err != nil {
			return nil, fmt.Errorf("users page %d: %w", page, err)
		}
		all = append(all, users...)
		pages, _ := strconv.Atoi(resp.header.Get("X-Total-Pages"))
		if len(users) == 0 || page >= pages && links(resp.header)["next"] == "" {
			break
		}
	}
	return all, nil
}

// User fetches one user by id or login.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var u User
	if _, err := c.do(ctx, http.MethodGet, "/users/"+url.PathEscape(id), nil, func(r *response) error {
		return json.Unmarshal(r.body, &u)
	}); err != nil {
		return User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// Issue fetches one issue by key or id.
func (c *Client) Issue(ctx context.Context, key string) (Issue, error) {
	var is Issue
	if _, err := c.do(ctx, http.MethodGet, "/issues/"+url.PathEscape(key), nil, func(r *response) error {
		return json.Unmarshal(r.body, &is)
	}); err != nil {
		return Issue{}, fmt.Errorf("issue %s: %w", key, err)
	}
	return is, nil
}
