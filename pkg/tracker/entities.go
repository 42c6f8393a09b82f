package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Comment is one comment of an issue. Raw is the object as received.
type Comment struct {
	ID        ID     `json:"id"`
	LongID    string `json:"longId"`
	Text      string `json:"text"`
	CreatedBy *Ref   `json:"createdBy"`
	UpdatedBy *Ref   `json:"updatedBy"`
	CreatedAt Time   `json:"createdAt"`
	UpdatedAt Time   `json:"updatedAt"`
	Version   int64  `json:"version"`
	Type      string `json:"type"`
	Transport string `json:"transport"`
}

// Worklog is one record of time spent on an issue.
type Worklog struct {
	ID        ID     `json:"id"`
	Version   int64  `json:"version"`
	Comment   string `json:"comment"`
	CreatedBy *Ref   `json:"createdBy"`
	UpdatedBy *Ref   `json:"updatedBy"`
	CreatedAt Time   `json:"createdAt"`
	UpdatedAt Time   `json:"updatedAt"`
	Start     Time   `json:"start"`
	// Duration is ISO 8601 (PT1H30M, P1W); see ParseDuration.
	Duration string `json:"duration"`
}

// Link is one link of an issue to another.
type Link struct {
	ID        ID       `json:"id"`
	Type      LinkType `json:"type"`
	Direction string   `json:"direction"` // inward or outward
	Object    *Ref     `json:"object"`
	CreatedBy *Ref     `json:"createdBy"`
	UpdatedBy *Ref     `json:"updatedBy"`
	CreatedAt Time     `json:"createdAt"`
	UpdatedAt Time     `json:"updatedAt"`
	Status    *Ref     `json:"status"`
}

// LinkType names a relationship both ways.
type LinkType struct {
	ID      ID     `json:"id"`
	Inward  string `json:"inward"`
	Outward string `json:"outward"`
}

// Board is one agile board.
type Board struct {
	ID      ID     `json:"id"`
	Version int64  `json:"version"`
	Name    string `json:"name"`
}

// Sprint is one sprint of a board.
type Sprint struct {
	ID            ID     `json:"id"`
	Version       int64  `json:"version"`
	Name          string `json:"name"`
	Board         *Ref   `json:"board"`
	Status        string `json:"status"`
	Archived      bool   `json:"archived"`
	CreatedBy     *Ref   `json:"createdBy"`
	CreatedAt     Time   `json:"createdAt"`
	StartDate     string `json:"startDate"`
	EndDate       string `json:"endDate"`
	StartDateTime Time   `json:"startDateTime"`
	EndDateTime   Time   `json:"endDateTime"`
}

// Comments returns every comment of an issue as received (JSON objects),
// oldest first, following the pages as Changelog does.
func (c *Client) Comments(ctx context.Context, issueKey string) ([]json.RawMessage, error) {
	return c.rawList(ctx, "comments", "/issues/"+url.PathEscape(issueKey)+"/comments", issueKey)
}

// Worklogs returns every worklog record of an issue as received, following
// pages when the server gives them.
func (c *Client) Worklogs(ctx context.Context, issueKey string) ([]json.RawMessage, error) {
	return c.rawList(ctx, "worklog", "/issues/"+url.PathEscape(issueKey)+"/worklog", issueKey)
}

func (c *Client) rawList(ctx context.Context, kind, path, issueKey string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	err := c.pages(ctx, kind, path, 100, func(body []byte) (int, error) {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return 0, err
		}
		all = append(all, items...)
		return len(items), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s of %s %w", kind, issueKey, err)
	}
	return all, nil
}

// Links returns the links of an issue as received, following pages as
// getList does.
func (c *Client) Links(ctx context.Context, issueKey string) ([]json.RawMessage, error) {
	return getList[json.RawMessage](ctx, c, "/issues/"+url.PathEscape(issueKey)+"/links", "links of "+issueKey)
}

// Boards returns every board as received, following pages as getList
// does.
func (c *Client) Boards(ctx context.Context) ([]json.RawMessage, error) {
	return getList[json.RawMessage](ctx, c, "/boards", "boards")
}

// Sprints returns the sprints of a board as received, following pages as
// getList does.
func (c *Client) Sprints(ctx context.Context, boardID string) ([]json.RawMessage, error) {
	return getList[json.RawMessage](ctx, c, "/boards/"+url.PathEscape(boardID)+"/sprints", "sprints of board "+boardID)
}

// getList GETs a list whose pagination the contract leaves open: one JSON
// array, or pages of one. It follows Link rel="next" (see walk) until a
// page has none or is empty. When the server counts the list
// (X-Total-Count) or its pages (X-Total-Pages), receiving fewer items or
// pages than the largest count any page gave is an error wrapping
// ErrListIncomplete: a list is never returned in part as if whole.
func getList[T any](ctx context.Context, c *Client, path, what string) ([]T, error) {
	var out []T
	got := listCount{total: -1}
	err := c.walk(ctx, path, 0, func(body []byte) (int, error) {
		var items []T
		if err := json.Unmarshal(body, &items); err != nil {
			return 0, err
		}
		out = append(out, items...)
		return len(items), nil
	}, got.last)
	if err == nil {
		err = got.check()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// listCount is what the pages of a list delivered against what the server
// counted: the largest X-Total-Count (-1: none) and X-Total-Pages (0:
// none) that any page gave.
type listCount struct {
	items, pages      int
	total, totalPages int
}

// last counts a page of n items and tells whether it was the last: the
// one without a next link, or an empty one.
func (l *listCount) last(n int, h http.Header, next string) bool {
	l.items += n
	l.pages++
	l.total = max(l.total, totalCount(h))
	if p, err := strconv.Atoi(h.Get("X-Total-Pages")); err == nil {
		l.totalPages = max(l.totalPages, p)
	}
	return n == 0 || next == ""
}

// check is an error wrapping ErrListIncomplete when fewer items or pages
// arrived than the server counted.
func (l *listCount) check() error {
	switch {
	case l.total >= 0 && l.items < l.total:
		return fmt.Errorf("%w: %d items in %d pages where the server counted %d", ErrListIncomplete, l.items, l.pages, l.total)
	case l.pages < l.totalPages:
		return fmt.Errorf("%w: %d pages where the server counted %d", ErrListIncomplete, l.pages, l.totalPages)
	}
	return nil
}

// Tracker counts time spent in business days and weeks: a day is 8 hours,
// a week 5 days. A month and a year, which Tracker does not write, are
// taken as 4 and 52 weeks.
const (
	WorkDay   = 8 * 3600
	WorkWeek  = 5 * WorkDay
	workMonth = 4 * WorkWeek
	workYear  = 52 * WorkWeek
)

// dateUnits are the seconds of the units of a duration's date parts,
// timeUnits those of its time parts (after the T).
var (
	dateUnits = map[byte]float64{'Y': workYear, 'M': workMonth, 'W': WorkWeek, 'D': WorkDay}
	timeUnits = map[byte]float64{'H': 3600, 'M': 60, 'S': 1}
)

// ParseDuration returns the seconds of an ISO 8601 duration as Tracker
// means it (P1D is 8 hours, P1W 5 days): PnYnMnWnDTnHnMnS, each part
// optional, fractions allowed on the last. An empty string is 0.
func ParseDuration(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) < 2 || s[0] != 'P' {
		return 0, fmt.Errorf("duration %q: want ISO 8601 like PT1H30M", s)
	}
	total, num, err := durationParts(s)
	if err != nil {
		return 0, err
	}
	if num != "" || s == "P" || s == "PT" {
		return 0, fmt.Errorf("duration %q: a number without a unit", s)
	}
	return int64(total + 0.5), nil
}

// durationParts sums the seconds of the parts of the duration s (after
// its P), and returns the digits that trail the last unit, if any.
func durationParts(s string) (total float64, num string, err error) {
	inTime := false
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == 'T' && !inTime && num == "":
			inTime = true
		case ch >= '0' && ch <= '9' || ch == '.' || ch == ',':
			if ch == ',' {
				ch = '.'
			}
			num += string(ch)
		default:
			n, err := partSeconds(s, num, ch, inTime)
			if err != nil {
				return 0, "", err
			}
			total += n
			num = ""
		}
	}
	return total, num, nil
}

// partSeconds is the seconds of one part of the duration s: the number
// num followed by the unit ch, a time unit after the T (inTime).
func partSeconds(s, num string, ch byte, inTime bool) (float64, error) {
	u, ok := dateUnits[ch]
	if inTime {
		u, ok = timeUnits[ch]
	}
	n, err := strconv.ParseFloat(num, 64)
	if !ok || num == "" || err != nil {
		return 0, fmt.Errorf("duration %q: unexpected %q", s, ch)
	}
	return n * u, nil
}
