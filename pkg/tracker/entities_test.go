package tracker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// The durations of the Tracker API documentation's examples, with
// Tracker's meaning: a day is 8 hours, a week 5 days ("if you transmit
// P5D, the request will return P1W").
func TestParseDuration(t *testing.T) {
	const h = 3600
	for in, want := range map[string]int64{
		"":             0,
		"P3W":          3 * 5 * 8 * h, // D-worklog
		"P5DT20M":      5*8*h + 20*60, // new-worklog
		"P5D":          40 * h,
		"P1W":          40 * h,
		"PT1H30M":      90 * 60,
		"P1D":          8 * h,
		"PT45M":        45 * 60,
		"P2DT3H":       19 * h,
		"P1W2DT3H":     (40 + 16 + 3) * h,
		"PT0.5H":       30 * 60,
		"PT1,5H":       90 * 60,
		"PT90S":        90,
		"P0D":          0,
		"P1M":          4 * 40 * h,
		"PT1H1M1S":     h + 61,
		"P1DT0H0M0S":   8 * h,
		"PT100H":       100 * h,
		"P10W":         400 * h,
		"PT1.25M":      75,
		"P1Y":          52 * 40 * h,
		"PT0S":         0,
		"P2W3DT4H5M6S": 2*40*h + 3*8*h + 4*h + 5*60 + 6,
	} {
		got, err := tracker.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"1H", "P", "PT", "P1", "PXD", "PT1D", "P1H", "T1H", "P-1D", "PT1HH"} {
		if n, err := tracker.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %d, want an error", bad, n)
		}
	}
}

// pagedList serves a JSON array of n objects in pages of per with the
// common pagination headers, as /v2/users and /v2/queues do: X-Total-Count
// (total, or n when total is 0), X-Total-Pages (totalPages, or the pages
// of n when it is 0) and Link rel="next" to next(page) while pages of n
// remain (next nil: the following page).
type pagedList struct {
	n, per, total, totalPages int
	next                      func(page int) int
	asked                     []int // the pages asked for
}

func (l *pagedList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	l.asked = append(l.asked, page)
	pages := (l.n + l.per - 1) / l.per
	out := []map[string]any{}
	for i := (page - 1) * l.per; i < min(page*l.per, l.n); i++ {
		out = append(out, map[string]any{"id": i + 1, "key": fmt.Sprintf("k%d", i+1), "uid": i + 1, "login": fmt.Sprintf("u%d", i+1)})
	}
	total := l.total
	if total == 0 {
		total = l.n
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("X-Total-Pages", strconv.Itoa(max(l.totalPages, pages)))
	if page < pages {
		next := page + 1
		if l.next != nil {
			next = l.next(page)
		}
		w.Header().Add("Link", fmt.Sprintf(`<http://%s%s?perPage=%d&page=%d>; rel="next"`, r.Host, r.URL.Path, l.per, next))
	}
	b, _ := json.Marshal(out)
	_, _ = w.Write(b)
}

// TestListsFollowPages: the lists whose pagination the contract leaves
// open (statuses, boards, sprints, links) follow Link rel="next", and fail
// rather than return part of a list: fewer items than X-Total-Count, or
// next links that lead back to a page already read.
func TestListsFollowPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lists := map[string]func(c *tracker.Client) (int, error){
		"statuses": func(c *tracker.Client) (int, error) { l, err := c.Statuses(ctx); return len(l), err },
		"boards":   func(c *tracker.Client) (int, error) { l, err := c.Boards(ctx); return len(l), err },
		"sprints":  func(c *tracker.Client) (int, error) { l, err := c.Sprints(ctx, "1"); return len(l), err },
		"links":    func(c *tracker.Client) (int, error) { l, err := c.Links(ctx, "A-1"); return len(l), err },
	}
	for _, tc := range []struct {
		name  string
		list  pagedList
		want  int    // items returned
		asked string // pages asked for
		err   string // part of the error ("": none)
		is    error
	}{
		{name: "one page", list: pagedList{n: 30, per: 50}, want: 30, asked: "[1]"},
		{name: "empty", list: pagedList{n: 0, per: 50}, want: 0, asked: "[1]"},
		{name: "three pages", list: pagedList{n: 120, per: 50}, want: 120, asked: "[1 2 3]"},
		{name: "two pages", list: pagedList{n: 70, per: 50}, want: 70, asked: "[1 2]"},
		{name: "X-Total-Count above what the pages gave", list: pagedList{n: 70, per: 50, total: 75}, asked: "[1 2]",
			err: "70 items in 2 pages where the server counted 75", is: tracker.ErrListIncomplete},
		{name: "X-Total-Pages above the pages linked", list: pagedList{n: 70, per: 50, totalPages: 3}, asked: "[1 2]",
			err: "2 pages where the server counted 3", is: tracker.ErrListIncomplete},
		// The first request, without page, is not known to be page 1.
		{name: "next link repeats the page", list: pagedList{n: 120, per: 50, next: func(int) int { return 1 }}, asked: "[1 1]",
			err: "page 2: its next link leads back to a page already read"},
		{name: "next links go round", list: pagedList{n: 200, per: 50, next: func(p int) int { return p%2 + 1 }}, asked: "[1 2 1]",
			err: "page 3: its next link leads back to a page already read"},
	} {
		for name, get := range lists {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				srv := tc.list
				c := newClient(t, "http://tracker.test", func(_ *tracker.Config, d *tracker.Deps) {
					d.HTTPClient = &http.Client{Transport: handlerTransport{&srv}}
				})
				got, err := get(c)
				input := fmt.Sprintf("%s of %d items in pages of %d, X-Total-Count %d", name, srv.n, srv.per, max(srv.total, srv.n))
				switch {
				case tc.err == "" && (err != nil || got != tc.want):
					t.Errorf("%s: %d items, error %v; want %d, no error", input, got, err, tc.want)
				case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
					t.Errorf("%s: %d items, error %v; want an error with %q", input, got, err, tc.err)
				case tc.is != nil && !errors.Is(err, tc.is):
					t.Errorf("%s: error %v, want %v", input, err, tc.is)
				}
				if asked := fmt.Sprint(srv.asked); asked != tc.asked {
					t.Errorf("%s: pages asked %s, want %s", input, asked, tc.asked)
				}
			})
		}
	}
}
