package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
// each page in order. It stops at the first error from fn or from Tracker
// (after retries). Malformed pages are retried like transient failures.
// The scroll context is released when the iteration ends early.
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
	collected := 0
	var scrollIDs []string
	defer func() {
		if len(scrollIDs) > 0 {
			// Best effort: an ended scroll frees server resources.
			c.clearScroll(context.WithoutCancel(ctx), scrollIDs)
		}
	}()
	for page := 1; ; page++ {
		var issues []Issue
		resp, err := c.do(ctx, http.MethodPost, "/issues/_search?"+q.Encode(), payload, func(r *response) error {
			issues = issues[:0]
			return json.Unmarshal(r.body, &issues)
		})
		if err != nil {
			return fmt.Errorf("search page %d: %w", page, err)
		}
		total := -1
		if v := resp.header.Get("X-Total-Count"); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				total = n
			}
		}
		collected += len(issues)
		if err := fn(SearchPage{Issues: issues, Total: total}); err != nil {
			return err
		}
		sid := resp.header.Get("X-Scroll-Id")
		if sid == "" || len(issues) == 0 || (total >= 0 && collected >= total) {
			scrollIDs = nil // the server released a finished scroll
			return nil
		}
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

// Changelog returns every changelog entry of an issue, oldest first,
// following the id cursor (Link rel="next") and stopping on an empty page,
// a page shorter than perPage or a missing next link. perPage ≤ 0 means 100.
func (c *Client) Changelog(ctx context.Context, issueKey string, perPage int) ([]ChangelogEntry, error) {
	if perPage <= 0 {
		perPage = 100
	}
	var all []ChangelogEntry
	path := "/issues/" + url.PathEscape(issueKey) + "/changelog?perPage=" + strconv.Itoa(perPage)
	for page := 1; ; page++ {
		var entries []ChangelogEntry
		resp, err := c.do(ctx, http.MethodGet, path, nil, func(r *response) error {
			entries = entries[:0]
			return json.Unmarshal(r.body, &entries)
		})
		if err != nil {
			return nil, fmt.Errorf("changelog %s page %d: %w", issueKey, page, err)
		}
		all = append(all, entries...)
		if len(entries) == 0 || len(entries) < perPage {
			return all, nil
		}
		next := links(resp.header)["next"]
		if next == "" {
			return all, nil
		}
		path = c.stripBase(pathOf(next))
		if !strings.Contains(path, "perPage=") {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "perPage=" + strconv.Itoa(perPage)
		}
	}
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
