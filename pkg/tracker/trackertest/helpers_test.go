package trackertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// client is a minimal HTTP client for the tests (the real client lives in
// pkg/tracker).
type client struct {
	t    testing.TB
	base string
	hdr  map[string]string
	http *http.Client
}

func newClient(t testing.TB, s *Server) *client {
	t.Helper()
	base := s.Start()
	t.Cleanup(s.Close)
	return &client{
		t: t, base: base, http: &http.Client{Timeout: 30 * time.Second},
		hdr: map[string]string{"Authorization": "OAuth y0_test", "X-Org-ID": "42"},
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path, body string, hdr ...string) resp {
	c.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	r, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	// Sized from Content-Length, which the emulator sends: a scroll page
	// of 1 000 issues grown from nothing is copied and cleared many times.
	var b bytes.Buffer
	b.Grow(int(max(r.ContentLength, 0)) + bytes.MinRead)
	if _, err := b.ReadFrom(r.Body); err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: r.StatusCode, header: r.Header, body: b.Bytes()}
}

func (c *client) mustOK(method, path, body string) resp {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != http.StatusOK {
		c.t.Fatalf("%s %s %s: status %d, body %.300s", method, path, body, r.status, r.body)
	}
	return r
}

type wireRef struct {
	Self    string `json:"self"`
	ID      string `json:"id"`
	Key     string `json:"key"`
	Display string `json:"display"`
}

type wireIssue struct {
	Self            string   `json:"self"`
	ID              string   `json:"id"`
	Key             string   `json:"key"`
	Version         int      `json:"version"`
	Summary         string   `json:"summary"`
	Description     string   `json:"description"`
	Aliases         []string `json:"aliases"`
	PreviousQueue   *wireRef `json:"previousQueue"`
	Queue           wireRef  `json:"queue"`
	Status          wireRef  `json:"status"`
	StatusType      wireRef  `json:"statusType"`
	PreviousStatus  *wireRef `json:"previousStatus"`
	StatusStartTime string   `json:"statusStartTime"`
	CreatedAt       string   `json:"createdAt"`
	UpdatedAt       string   `json:"updatedAt"`
	Resolution      *wireRef `json:"resolution"`
	ResolvedAt      string   `json:"resolvedAt"`
	Assignee        *wireRef `json:"assignee"`
	CreatedBy       wireRef  `json:"createdBy"`
	Followers       []wireRef
	Project         json.RawMessage `json:"project"`
	StoryPoints     *float64        `json:"storyPoints"`
}

type wireChange struct {
	Field wireRef         `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

type wireEntry struct {
	ID        string       `json:"id"`
	Self      string       `json:"self"`
	Issue     wireRef      `json:"issue"`
	UpdatedAt string       `json:"updatedAt"`
	UpdatedBy wireRef      `json:"updatedBy"`
	Type      string       `json:"type"`
	Transport string       `json:"transport"`
	Fields    []wireChange `json:"fields"`
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v; body %.300s", v, err, b)
	}
	return v
}

func parseTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(dateTimeLayout, s)
	if err != nil {
		t.Fatalf("datetime %q: %v", s, err)
	}
	return tm
}

var linkRE = regexp.MustCompile(`<([^>]*)>;\s*rel="([a-z]+)"`)

// links parses every Link header line into rel → URL.
func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, line := range h.Values("Link") {
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			out[m[2]] = m[1]
		}
	}
	return out
}

type errBody struct {
	Errors        map[string]string `json:"errors"`
	ErrorMessages []string          `json:"errorMessages"`
	ErrorsData    map[string]any    `json:"errorsData"`
	StatusCode    int               `json:"statusCode"`
}

// errorBody checks the standard error body and returns its message.
func errorBody(t testing.TB, r resp, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %.300s", r.status, status, r.body)
	}
	e := decode[errBody](t, r.body)
	if e.Errors == nil || e.ErrorsData == nil || len(e.ErrorMessages) != 1 || e.StatusCode != status {
		t.Fatalf("error body %s is not the standard shape for %d", r.body, status)
	}
	return e.ErrorMessages[0]
}

// scrollAll runs a scroll search to its end and returns the issues.
func (c *client) scrollAll(query, params string) ([]wireIssue, int) {
	c.t.Helper()
	body := `{"query":` + jsonString(query) + `}`
	r := c.mustOK("POST", "/v2/issues/_search?scrollType=unsorted&"+params, body)
	total := atoiHeader(c.t, r.header, "X-Total-Count")
	var out []wireIssue
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			c.t.Fatal("scroll does not end")
		}
		out = append(out, decode[[]wireIssue](c.t, r.body)...)
		id := r.header.Get("X-Scroll-Id")
		if id == "" {
			break
		}
		r = c.mustOK("POST", "/v2/issues/_search?scrollId="+id+"&scrollToken="+r.header.Get("X-Scroll-Token"), body)
	}
	return out, total
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func atoiHeader(t testing.TB, h http.Header, name string) int {
	t.Helper()
	v := h.Get(name)
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			t.Fatalf("header %s = %q is not a number", name, v)
		}
		n = n*10 + int(c-'0')
	}
	if v == "" {
		t.Fatalf("header %s missing", name)
	}
	return n
}

// changelogAll follows the changelog's Link rel="next" to the end.
func (c *client) changelogAll(key string, params string) ([]wireEntry, int) {
	c.t.Helper()
	url := c.base + "/v2/issues/" + key + "/changelog"
	if params != "" {
		url += "?" + params
	}
	var out []wireEntry
	requests := 0
	for url != "" {
		requests++
		if requests > 10_000 {
			c.t.Fatal("changelog does not end")
		}
		r := c.mustOK("GET", url, "")
		page := decode[[]wireEntry](c.t, r.body)
		out = append(out, page...)
		url = links(r.header)["next"]
	}
	return out, requests
}
