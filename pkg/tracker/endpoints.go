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
	// Total is X-Total-Count (the uncapped total in scroll mode), -1 if absent.
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
// the last issue it saw. A scroll that ends before delivering
// X-Total-Count issues returns an error wrapping ErrSearchIncomplete after
// every page was handed to fn. The scroll context is released when the
// iteration ends early.
func (c *Client) Search(ctx context.Context, req SearchRequest, fn func(SearchPage) error) error {
	per := req.PerScroll
	if per <= 0 || per > 1000 {
		per = 1000
	}
	ttl := req.TTLMillis
	if ttl <= 0 {
		ttl = 60000
	}
	body := map[string]any{}
	if req.Query != "" {
		body["query"] = req.Query
	} else if len(req.Filter) > 0 {
		body["filter"] = req.Filter
	} else {
		return fmt.Errorf("tracker search: neither query nor filter given")
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("tracker search: %w", err)
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
	collected, total := 0, -1
	var scrollIDs []string
	defer func() {
		if len(scrollIDs) > 0 {
			// Best effort: an ended scroll frees server resources.
			c.clearScroll(context.WithoutCancel(ctx), scrollIDs)
		}
	}()
	for page := 1; ; page++ {
		var issues []Issue
		retryIf := retryable
		if page > 1 {
			retryIf = refused
		}
		resp, err := c.doWith(ctx, http.MethodPost, "/issues/_search?"+q.Encode(), payload, func(r *response) error {
			issues = issues[:0]
			return json.Unmarshal(r.body, &issues)
		}, retryIf)
		switch {
		case err != nil && page == 1:
			return fmt.Errorf("search page %d: %w", page, err)
		case err != nil && total >= 0 && collected >= total:
			// Every counted issue arrived; this page was only a check.
			scrollIDs = nil
			return nil
		case err != nil:
			return fmt.Errorf("search page %d after %d issues: %w: %w", page, collected, ErrScrollInterrupted, err)
		}
		if page == 1 {
			if n, err := strconv.Atoi(resp.header.Get("X-Total-Count")); err == nil && n >= 0 {
				total = n
			}
		}
		collected += len(issues)
		if err := fn(SearchPage{Issues: issues, Total: total}); err != nil {
			return err
		}
		sid := resp.header.Get("X-Scroll-Id")
		if sid == "" || len(issues) == 0 {
			scrollIDs = nil // the server released a finished scroll
			if total >= 0 && collected < total {
				return fmt.Errorf("%w: the scroll ended after %d of the %d issues the server counted", ErrSearchIncomplete, collected, total)
			}
			return nil
		}
		// With every counted issue collected, one more page is still
		// asked for while the server offers one: a total that the server
		// capped must not cut the export short.
		scrollIDs = append(scrollIDs[:0], sid)
		q = url.Values{}
		q.Set("scrollId", sid)
		if tok := resp.header.Get("X-Scroll-Token"); tok != "" {
			q.Set("scrollToken", tok)
		}
		q.Set("scrollTTLMillis", strconv.Itoa(ttl))
		if req.Expand != "" {
			q.Set("expand", req.Expand)
		}
	}
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
// follows Link rel="next" while the server gives one, and stops on an
// empty page, on a page without a next link, and on a page shorter than
// the server's page size, which is the smaller of perPage and the longest
// page the server has returned so far for this kind of list (its own cap,
// if it has one, is at least that). A page of that length with a next link
// is followed, so a server that caps pages below perPage, or that links
// past its last page, never truncates a list. perPage ≤ 0 means 100.
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
	for page := 1; ; page++ {
		if page > maxPages {
			return fmt.Errorf("more than %d pages: the server's next links do not end", maxPages)
		}
		n := 0
		resp, err := c.do(ctx, http.MethodGet, path, nil, func(r *response) (err error) {
			n, err = decode(r.body)
			return err
		})
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		seenMax := longest.Load()
		full := min(int64(perPage), seenMax)
		for seen := seenMax; int64(n) > seen && !longest.CompareAndSwap(seen, int64(n)); seen = longest.Load() {
		}
		next := links(resp.header)["next"]
		if per := linkPerPage(next); per > 0 && per <= seenMax {
			// The page size the server's next link states, once the server
			// has filled pages that long (a link that echoes the asked size
			// of a server that caps lower is not believed).
			full = per
		}
		if n == 0 || next == "" || int64(n) < full {
			return nil
		}
		nextPath := c.nextPath(next, perPage)
		if nextPath == path {
			return fmt.Errorf("page %d: the next link repeats the page just read", page)
		}
		path = nextPath
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
// none.
func (c *Client) nextPath(next string, perPage int) string {
	p := c.stripBase(pathOf(next))
	if strings.Contains(p, "perPage=") {
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

// Statuses returns the status directory.
func (c *Client) Statuses(ctx context.Context) ([]Status, error) {
	var out []Status
	if _, err := c.do(ctx, http.MethodGet, "/statuses", nil, func(r *response) error {
		out = out[:0]
		return json.Unmarshal(r.body, &out)
	}); err != nil {
		return nil, fmt.Errorf("statuses: %w", err)
	}
	return out, nil
}

// Users returns the whole users directory, page by page (perPage 1000
// where allowed, following X-Total-Pages).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var all []User
	const per = 1000
	for page := 1; ; page++ {
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
			return all, nil
		}
	}
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
