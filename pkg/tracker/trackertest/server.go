package trackertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Options configures a Server. The zero value is usable: no synthetic
// issues, no latency, no rate limit, any token and organization accepted.
type Options struct {
	// Issues is the number of synthetic issues (0: only fixtures).
	Issues int
	// Seed selects the synthetic data; issue i is a pure function of (Seed, i).
	Seed int64
	// Latency is added to every response.
	Latency time.Duration
	// RateLimit is a token bucket in requests per second shared by all
	// clients; 0 means unlimited. Excess requests get 429 with Retry-After.
	RateLimit float64
	// Burst is the bucket size; default max(1, int(RateLimit)).
	Burst int
	// RetryAfter is the Retry-After of injected 429s and the least one of
	// the rate limit's; 0 means Tracker's whole seconds (1 s, and the
	// limit's wait rounded up to a second). Under a second it is written
	// as fractional seconds, so that tests of 429s need not wait.
	RetryAfter time.Duration
	// Token is the accepted token; "" accepts any non-empty OAuth or Bearer token.
	Token string
	// OrgID is the required X-Org-ID or X-Cloud-Org-ID value; "" accepts any.
	OrgID string
	// Zone is the zone of query-language datetimes; default Europe/Moscow.
	Zone *time.Location
	// Now is the fixed "now" of data generation and of now()/today() in
	// queries; default 2026-11-01T00:00:00Z.
	Now time.Time
	// Realistic makes the changelog also send rel="next" on the last
	// non-empty page, followed by an empty page without it (§4.2).
	Realistic bool
	// ScrollCursor makes scroll ids cursors (§2.5): one id per scroll, the
	// same on every page, and every request carrying it returns the page at
	// the scroll's current position and advances the position by one page,
	// whether or not the client receives the answer. Once the position is
	// past the last page the id gets 404. Default: every page has its own
	// id and re-sending an id returns the same page.
	ScrollCursor bool
	// ChangelogPageCap is the largest changelog page the server returns,
	// whatever perPage the client asks (0: no cap beyond the 1000 clamp).
	// rel="next" still comes while more entries exist.
	ChangelogPageCap int
	// RecordArrivals keeps the arrival time of every request, for
	// MaxInWindow and Arrivals (8 bytes a request).
	RecordArrivals bool
	// ChangelogCapEchoesRequest makes the changelog's first and next links
	// carry the perPage the client asked instead of the capped page size,
	// so the server does not tell its page size.
	ChangelogCapEchoesRequest bool
}

// Faults are failures injected into responses. Rates use a deterministic
// generator seeded from Options.Seed.
type Faults struct {
	// Status5xxRate is the probability of answering 500 or 503.
	Status5xxRate float64
	// Next5xx makes the next N requests answer 503.
	Next5xx int
	// Next429 makes the next N requests answer 429 with Retry-After: 1.
	Next429 int
	// MalformedRate is the probability that a 200 search or changelog body
	// is cut in half (invalid JSON).
	MalformedRate float64
	// NextMalformed cuts the next N 200 search or changelog bodies.
	NextMalformed int
	// Hang delays every answer by this much (for client timeouts).
	Hang time.Duration
	// NextLost makes the next N requests of LostEndpoint lose their
	// response: the request is fully processed (a scroll cursor advances,
	// counters count it), then its answer, whatever its status, is replaced
	// by 502 Bad Gateway with the standard error body, as a proxy would
	// answer. Only requests that reach their handler count (not those
	// refused by injected 5xx/429, the rate limit, authentication or an
	// unknown path).
	NextLost int
	// LostRate is the probability that such a request loses its response.
	LostRate float64
	// LostEndpoint restricts NextLost and LostRate to one endpoint (an Ep*
	// name); "" means every endpoint. A name that is not an Ep* constant
	// matches nothing.
	LostEndpoint string
}

// Endpoint names for Requests.
const (
	EpSearch      = "search"
	EpScrollClear = "scroll_clear"
	EpCount       = "count"
	EpChangelog   = "changelog"
	EpIssue       = "issue"
	EpUsers       = "users"
	EpUser        = "user"
	EpStatuses    = "statuses"
	EpStatus      = "status"
	EpIssueTypes  = "issuetypes"
	EpPriorities  = "priorities"
	EpResolutions = "resolutions"
	EpFields      = "fields"
	EpQueues      = "queues"
	EpMyself      = "myself"
	// EpComments counts /issues/{key}/comments[/{id}].
	EpComments = "comments"
	// EpWorklog counts /issues/{key}/worklog[/{id}].
	EpWorklog = "worklog"
	// EpLinks counts /issues/{key}/links[/{id}].
	EpLinks = "links"
	// EpBoards counts /boards and /boards/{id}.
	EpBoards = "boards"
	// EpSprints counts /boards/{id}/sprints and /sprints/{id}.
	EpSprints = "sprints"
	EpOther   = "other"
)

var endpointNames = []string{
	EpSearch, EpScrollClear, EpCount, EpChangelog, EpIssue, EpUsers, EpUser, EpStatuses,
	EpStatus, EpIssueTypes, EpPriorities, EpResolutions, EpFields, EpQueues, EpMyself,
	EpComments, EpWorklog, EpLinks, EpBoards, EpSprints, EpOther,
}

const (
	epSearch = iota
	epScrollClear
	epCount
	epChangelog
	epIssue
	epUsers
	epUser
	epStatuses
	epStatus
	epIssueTypes
	epPriorities
	epResolutions
	epFields
	epQueues
	epMyself
	epComments
	epWorklog
	epLinks
	epBoards
	epSprints
	epOther
	numEndpoints
)

// Server is the Tracker emulator. All its methods are safe for concurrent
// use.
type Server struct {
	opts      Options
	seed      uint64
	zone      *time.Location
	now       time.Time
	nowMS     int64
	baseStart int64
	step      int64
	limiter   *rate.Limiter

	mu          sync.RWMutex
	fixtures    []*issue         // by fixture index
	touched     map[int32]*issue // synthetic index → materialized copy
	nTouched    atomic.Int32
	extras      []*issue // fixtures and touched issues sorted by updatedAt
	fixtureKeys map[string]int32
	queues      []queueDef
	refSets     map[string]*refSet
	gone        map[int32]uint8 // deleted or hidden issues; copy-on-write
	nGone       atomic.Int32
	mutSeq      int64 // ids given by the mutations

	cache [cacheSize]atomic.Pointer[issue]

	scrollMu  sync.Mutex
	scrolls   map[uint64]*scroll
	scrollSeq uint64

	faultMu  sync.Mutex
	faults   Faults
	faultRng rng

	counters  [numEndpoints]atomic.Int64
	total     atomic.Int64
	throttled atomic.Int64
	lost      atomic.Int64

	arrivalMu sync.Mutex
	arrivals  []int64 // Unix nanoseconds, with Options.RecordArrivals

	baseEntriesOnce sync.Once
	baseEntries     int64

	srvMu   sync.Mutex
	httpSrv *http.Server
	url     string
}

// DefaultNow is the default Options.Now.
var DefaultNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// New returns an emulator; it generates nothing eagerly.
func New(opts Options) *Server {
	if opts.Issues < 0 {
		opts.Issues = 0
	}
	if opts.Issues > fixtureCodeBase-1 {
		opts.Issues = fixtureCodeBase - 1
	}
	s := &Server{
		opts:        opts,
		seed:        uint64(opts.Seed),
		zone:        opts.Zone,
		now:         opts.Now,
		touched:     map[int32]*issue{},
		gone:        map[int32]uint8{},
		fixtureKeys: map[string]int32{},
		queues:      append([]queueDef(nil), queueDefs...),
		refSets:     map[string]*refSet{},
		scrolls:     map[uint64]*scroll{},
		faultRng:    rng{mix(uint64(opts.Seed), saltFault)},
	}
	if s.zone == nil {
		s.zone = moscow()
	}
	if s.now.IsZero() {
		s.now = DefaultNow
	}
	s.nowMS = s.now.UnixMilli()
	s.baseStart = s.nowMS - 730*msPerDay
	end := s.nowMS - 60*msPerMinute
	s.step = (end - s.baseStart) / int64(max(opts.Issues, 1))
	if s.step < 1 {
		s.step = 1
	}
	if opts.RateLimit > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = max(1, int(opts.RateLimit))
		}
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), burst)
	}
	return s
}

func moscow() *time.Location {
	if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
		return loc
	}
	return time.FixedZone("MSK", 3*3600) // UTC+3 without DST since 2014
}

// Handler returns the HTTP handler of the emulator. Self URLs use the
// scheme and Host of each request.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start serves on a random port of 127.0.0.1 in the background and returns
// the base URL (no trailing slash, no /v2). It panics if it cannot listen,
// as httptest does.
func (s *Server) Start() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("trackertest: listen: %v", err))
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.srvMu.Lock()
	s.httpSrv = srv
	s.url = "http://" + ln.Addr().String()
	u := s.url
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return u
}

// ListenAndServe serves on addr until ctx is cancelled, then shuts down
// gracefully (5 s) and returns nil. Other errors come from net.Listen or
// http.Server.Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener the caller opened (tests use port
// 0, and can send requests as soon as it is open). It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.srvMu.Lock()
	s.httpSrv = srv
	s.url = "http://" + net.JoinHostPort(host, port)
	s.srvMu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("emulator serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("emulator serve: %w", err)
		}
		return nil
	}
}

// URL returns the base URL of a started server, or "" before Start.
func (s *Server) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.url
}

// Close stops a server started with Start, closing its connections.
func (s *Server) Close() {
	s.srvMu.Lock()
	srv := s.httpSrv
	s.srvMu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Requests returns the number of requests that reached the handler for an
// endpoint (see the Ep* constants), including 401, 429 and 5xx answers.
func (s *Server) Requests(endpoint string) int64 {
	for i, n := range endpointNames {
		if n == endpoint {
			return s.counters[i].Load()
		}
	}
	return 0
}

// TotalRequests returns the number of requests of all endpoints.
func (s *Server) TotalRequests() int64 { return s.total.Load() }

// Throttled returns the number of 429 answers sent.
func (s *Server) Throttled() int64 { return s.throttled.Load() }

// Arrivals returns the arrival times of the requests so far, in order
// (Options.RecordArrivals; nil without).
func (s *Server) Arrivals() []time.Time {
	s.arrivalMu.Lock()
	defer s.arrivalMu.Unlock()
	out := make([]time.Time, len(s.arrivals))
	for i, ns := range s.arrivals {
		out[i] = time.Unix(0, ns)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// MaxInWindow returns the most requests that arrived within any window of
// length w (a sliding window, not calendar seconds), and when that window
// began (Options.RecordArrivals; 0 without).
func (s *Server) MaxInWindow(w time.Duration) (int, time.Time) {
	ts := s.Arrivals()
	best, from, j := 0, time.Time{}, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		if i-j+1 > best {
			best, from = i-j+1, ts[j]
		}
	}
	return best, from
}

// Lost returns the number of responses replaced by 502 (Faults.NextLost,
// Faults.LostRate).
func (s *Server) Lost() int64 { return s.lost.Load() }

// ResetCounters zeroes the request, total, throttled and lost counters
// and forgets the arrivals.
func (s *Server) ResetCounters() {
	for i := range s.counters {
		s.counters[i].Store(0)
	}
	s.total.Store(0)
	s.throttled.Store(0)
	s.lost.Store(0)
	s.arrivalMu.Lock()
	s.arrivals = nil
	s.arrivalMu.Unlock()
}

// InjectFaults replaces the injected faults.
func (s *Server) InjectFaults(f Faults) {
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
}

// faultDecision is what the injected faults make of one request.
type faultDecision struct {
	hang   time.Duration
	status int // 0: none
}

func (s *Server) decideFault() faultDecision {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := &s.faults
	d := faultDecision{hang: f.Hang}
	switch {
	case f.Next5xx > 0:
		f.Next5xx--
		d.status = http.StatusServiceUnavailable
	case f.Next429 > 0:
		f.Next429--
		d.status = http.StatusTooManyRequests
	case f.Status5xxRate > 0 && s.faultFloat() < f.Status5xxRate:
		d.status = http.StatusServiceUnavailable
		if s.faultRng.intn(2) == 0 {
			d.status = http.StatusInternalServerError
		}
	}
	return d
}

// faultFloat is a uniform value in [0, 1); callers hold faultMu.
func (s *Server) faultFloat() float64 {
	return float64(s.faultRng.next()>>11) / (1 << 53)
}

// decideLost tells whether a request of endpoint ep that reached its
// handler loses its response. The generator is drawn only when LostRate
// applies, so other faults' sequences do not change.
func (s *Server) decideLost(ep int) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := &s.faults
	if f.NextLost <= 0 && f.LostRate <= 0 {
		return false
	}
	if f.LostEndpoint != "" && f.LostEndpoint != endpointNames[ep] {
		return false
	}
	if f.NextLost > 0 {
		f.NextLost--
		return true
	}
	return s.faultFloat() < f.LostRate
}

// lostWriter stands in for the ResponseWriter of a request whose response
// is lost: the handler runs normally, and its headers and body go nowhere.
type lostWriter struct {
	header http.Header
	status int
}

func (w *lostWriter) Header() http.Header { return w.header }

func (w *lostWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *lostWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

func (s *Server) decideMalformed() bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faults.NextMalformed > 0 {
		s.faults.NextMalformed--
		return true
	}
	return s.faults.MalformedRate > 0 && s.faultFloat() < s.faults.MalformedRate
}

// req is one request being served.
type req struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	ver    string   // "v2" or "v3"
	segs   []string // path segments after the version
	api    string   // scheme://host/vN
	lang   int
	refs   *refSet
	status int  // status written, for tests of the middleware
	lost   bool // the response is discarded (lostWriter): no malformed-body draw
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ver, segs, ep, ok := route(r.URL.Path)
	s.counters[ep].Add(1)
	s.total.Add(1)
	if s.opts.RecordArrivals {
		now := time.Now().UnixNano()
		s.arrivalMu.Lock()
		s.arrivals = append(s.arrivals, now)
		s.arrivalMu.Unlock()
	}
	q := &req{s: s, w: w, r: r, ver: ver, segs: segs, lang: langOf(r.Header.Get("Accept-Language"))}
	if !sleepCtx(r.Context(), s.opts.Latency) {
		return
	}
	fd := s.decideFault()
	if !sleepCtx(r.Context(), fd.hang) {
		return
	}
	switch fd.status {
	case 0:
	case http.StatusTooManyRequests:
		s.throttled.Add(1)
		w.Header().Set("Retry-After", s.retryAfter(0))
		q.fail(http.StatusTooManyRequests, "Too many requests")
		return
	default:
		q.fail(fd.status, "Internal error. Try resending your request in a few minutes")
		return
	}
	if s.limiter != nil {
		res := s.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			s.throttled.Add(1)
			if d == rate.InfDuration {
				d = 0
			}
			w.Header().Set("Retry-After", s.retryAfter(d))
			q.fail(http.StatusTooManyRequests, "Too many requests")
			return
		}
	}
	if msg := s.checkAuth(r.Header); msg != "" {
		q.fail(http.StatusUnauthorized, msg)
		return
	}
	if !ok {
		q.fail(http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q.api = scheme + "://" + r.Host + "/" + ver
	q.refs = s.refSet(q.api, ver == "v3", q.lang)
	if !s.decideLost(ep) {
		s.dispatch(q, ep)
		return
	}
	q.w, q.lost = &lostWriter{header: http.Header{}}, true
	s.dispatch(q, ep)
	q.w, q.lost = w, false
	s.lost.Add(1)
	q.fail(http.StatusBadGateway, "Bad Gateway: the upstream response was lost")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func langOf(h string) int {
	h = strings.TrimSpace(strings.ToLower(h))
	if strings.HasPrefix(h, "ru") {
		return langRU
	}
	return langEN
}

// checkAuth returns "" when the headers authenticate the request, else the
// 401 message.
func (s *Server) checkAuth(h http.Header) string {
	auth := strings.TrimSpace(h.Get("Authorization"))
	scheme, token, _ := strings.Cut(auth, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "OAuth") && !strings.EqualFold(scheme, "Bearer") {
		return "Authorization required: send \"Authorization: OAuth <token>\" or \"Bearer <IAM token>\""
	}
	if token == "" || token == "not provided" || (s.opts.Token != "" && token != s.opts.Token) {
		return "Invalid or expired token"
	}
	org := strings.TrimSpace(h.Get("X-Org-ID"))
	cloud := strings.TrimSpace(h.Get("X-Cloud-Org-ID"))
	if org == "not provided" {
		org = ""
	}
	if cloud == "not provided" {
		cloud = ""
	}
	if org == "" && cloud == "" {
		return "Organization required: send X-Org-ID or X-Cloud-Org-ID"
	}
	if s.opts.OrgID != "" && org != s.opts.OrgID && cloud != s.opts.OrgID {
		return "Unknown organization"
	}
	return ""
}

// routeRule names the endpoint of the paths whose segments after the
// version are segs, where "*" matches any one segment.
type routeRule struct {
	segs []string
	ep   int
}

// matches tells whether path segments segs follow the rule.
func (rr routeRule) matches(segs []string) bool {
	if len(segs) != len(rr.segs) {
		return false
	}
	for i, p := range rr.segs {
		if p != "*" && p != segs[i] {
			return false
		}
	}
	return true
}

// rule is the rule of a pattern such as "issues/*/changelog".
func rule(pattern string, ep int) routeRule {
	return routeRule{segs: strings.Split(pattern, "/"), ep: ep}
}

// routes are the paths served, tried in order: the first rule that
// matches names the endpoint.
var routes = []routeRule{
	rule("issues/_search", epSearch),
	rule("issues/_count", epCount),
	rule("issues/*", epIssue),
	rule("issues/*/changelog", epChangelog),
	rule("issues/*/comments", epComments),
	rule("issues/*/comments/*", epComments),
	rule("issues/*/worklog", epWorklog),
	rule("issues/*/worklog/*", epWorklog),
	rule("issues/*/links", epLinks),
	rule("issues/*/links/*", epLinks),
	rule("boards", epBoards),
	rule("boards/*", epBoards),
	rule("boards/*/sprints", epSprints),
	rule("system/search/scroll/_clear", epScrollClear),
	rule("statuses", epStatuses),
	rule("statuses/*", epStatus),
	rule("users", epUsers),
	rule("users/_relative", epUsers),
	rule("users/*", epUser),
	rule("myself", epMyself),
	rule("issuetypes", epIssueTypes),
	rule("issuetypes/*", epIssueTypes),
	rule("priorities", epPriorities),
	rule("priorities/*", epPriorities),
	rule("resolutions", epResolutions),
	rule("resolutions/*", epResolutions),
	rule("fields", epFields),
	rule("fields/*", epFields),
	rule("queues", epQueues),
	rule("queues/*", epQueues),
	rule("queues/*/localFields", epQueues),
	rule("components", epOther),
	rule("components/*", epOther),
	rule("sprints/*", epSprints),
	rule("projects/*", epOther),
	rule("entities/project/*", epOther),
}

// route splits a path into version and segments and names its endpoint.
func route(path string) (ver string, segs []string, ep int, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 0 || (parts[0] != "v2" && parts[0] != "v3") {
		return "", nil, epOther, false
	}
	ver, segs = parts[0], parts[1:]
	if len(segs) == 0 || segs[0] == "" {
		return ver, segs, epOther, false
	}
	for _, rr := range routes {
		if rr.matches(segs) {
			return ver, segs, rr.ep, true
		}
	}
	return ver, segs, epOther, false
}

func (s *Server) dispatch(q *req, ep int) {
	post := ep == epSearch || ep == epCount || ep == epScrollClear
	if post && q.r.Method != http.MethodPost {
		q.w.Header().Set("Allow", http.MethodPost)
		q.fail(http.StatusMethodNotAllowed, "Method not allowed: use POST")
		return
	}
	if !post && q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		q.w.Header().Set("Allow", "GET, HEAD")
		q.fail(http.StatusMethodNotAllowed, "Method not allowed: use GET")
		return
	}
	switch ep {
	case epSearch:
		s.handleSearch(q)
	case epCount:
		s.handleCount(q)
	case epScrollClear:
		s.handleScrollClear(q)
	case epIssue:
		s.handleIssue(q)
	case epChangelog:
		s.handleChangelog(q)
	case epStatuses, epStatus:
		s.handleStatuses(q)
	case epUsers:
		s.handleUsers(q)
	case epUser:
		s.handleUser(q)
	case epMyself:
		q.writeJSON(http.StatusOK, s.appendUser(nil, q, 0), false)
	case epIssueTypes:
		s.handleNamed(q, issueTypeDefs, "issuetypes")
	case epPriorities:
		s.handleNamed(q, priorityDefs, "priorities")
	case epResolutions:
		s.handleNamed(q, resolutionDefs, "resolutions")
	case epFields:
		s.handleFields(q)
	case epQueues:
		s.handleQueues(q)
	case epComments:
		s.handleComments(q)
	case epWorklog:
		s.handleWorklog(q)
	case epLinks:
		s.handleLinks(q)
	case epBoards:
		s.handleBoards(q)
	case epSprints:
		if q.segs[0] == "sprints" {
			s.handleSprint(q)
		} else {
			s.handleBoards(q)
		}
	default:
		s.handleOther(q)
	}
}

// writeJSON writes a JSON body; mayBreak marks a body that malformed-body
// injection may cut.
func (q *req) writeJSON(status int, body []byte, mayBreak bool) {
	if mayBreak && status == http.StatusOK && !q.lost && q.s.decideMalformed() {
		body = body[:len(body)/2]
	}
	h := q.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	q.status = status
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		_, _ = q.w.Write(body)
	}
}

// fail writes the standard error body.
func (q *req) fail(status int, msg string) {
	b := make([]byte, 0, 96+len(msg))
	b = append(b, `{"errors":{},"errorMessages":[`...)
	b = appendJSONString(b, msg)
	b = append(b, `],"errorsData":{},"statusCode":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, '}')
	q.writeJSON(status, b, false)
}

// retryAfter is the Retry-After header of a 429 for a wait of d: whole
// seconds, at least 1, unless Options.RetryAfter asks for less.
func (s *Server) retryAfter(d time.Duration) string {
	least := s.opts.RetryAfter
	if least <= 0 || least >= time.Second {
		least = max(least, time.Second)
		return strconv.Itoa(int(math.Ceil(max(d, least).Seconds())))
	}
	return strconv.FormatFloat(max(d, least).Seconds(), 'f', 3, 64)
}
