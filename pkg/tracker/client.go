// Package tracker is a Yandex Tracker HTTP client for bulk export: scroll
// search, full changelog pagination, the users and statuses directories,
// with a client-side rate limit, fixed or adapting to the server's 429s,
// and retries that honour Retry-After.
//
// A Client is safe for concurrent use.
package tracker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Attempt describes one HTTP request sent (a retry is another attempt).
type Attempt struct {
	Method string
	// Path is the URL path and query, without scheme and host.
	Path string
	// Status is the HTTP status (0 when no answer came).
	Status   int
	Duration time.Duration
	// Retry is 0 for the first attempt of a call, then 1, 2, ...
	Retry int
	// Err is the failure of the attempt (nil on a 2xx answer).
	Err error
}

// Client talks to one Tracker organization.
type Client struct {
	cfg     Config
	deps    Deps
	base    string // scheme://host
	prefix  string // /v2
	http    *http.Client
	limiter *rate.Limiter // fixed RateLimit; nil when adaptive or unlimited
	adapt   *adaptive     // Adaptive without Shared; nil otherwise
	shared  *shared       // Shared; nil otherwise
	auth    string

	requests  atomic.Int64
	retries   atomic.Int64
	throttled atomic.Int64

	// pageMaxes holds, per kind of cursor list (changelog, comments,
	// worklog), the longest page the server has returned: its page size is
	// at least that, so a shorter page is the last one whatever links it
	// carries.
	pageMaxes sync.Map
}

// APIError is a non-2xx answer from Tracker.
type APIError struct {
	Status     int
	Method     string
	Path       string
	Messages   []string
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := strings.Join(e.Messages, "; ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("tracker %s %s: %d %s", e.Method, e.Path, e.Status, msg)
}

// Is lets errors.Is match the sentinels by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// Sentinel errors matched with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrRateLimited  = errors.New("rate limited")
	ErrUnauthorized = errors.New("unauthorized")
	// ErrMalformed marks a 200 answer whose body could not be decoded.
	ErrMalformed = errors.New("malformed response")
	// ErrScrollInterrupted marks a scroll whose continuation request
	// failed. The server may have advanced the scroll even though its
	// answer was lost, so the request is never re-sent: the caller
	// restarts the search.
	ErrScrollInterrupted = errors.New("scroll interrupted")
	// ErrSearchIncomplete marks a search whose scroll ended before it
	// delivered the number of issues the server counted (X-Total-Count).
	ErrSearchIncomplete = errors.New("search incomplete")
	// ErrListIncomplete marks a list (statuses, boards, sprints, links)
	// whose pages delivered fewer items or pages than the server counted
	// (X-Total-Count, X-Total-Pages).
	ErrListIncomplete = errors.New("list incomplete")
)

// New validates cfg and returns a Client. It does no I/O. Fields left at
// their zero value where zero means nothing (BaseURL, APIVersion, Language,
// Timeout, the backoff bounds, the adaptive RateCeiling) take Default's, and
// a negative MaxRetries counts as 0; then every problem of cfg.Validate is
// returned at once, with those of deps.
func New(cfg Config, deps Deps) (*Client, error) {
	cfg = cfg.withDefaults()
	errs := []error{cfg.Validate()}
	if deps.Shared != nil && !cfg.Adaptive && cfg.RateLimit <= 0 {
		errs = append(errs, errors.New("a shared rate limit needs a rate limit"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tracker: invalid configuration: %w", err)
	}
	u, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/")) // Validate parsed it
	c := &Client{cfg: cfg, deps: deps, base: u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"), prefix: "/" + cfg.APIVersion}
	c.http = deps.HTTPClient
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.MaxConnsPerHost = 0
		c.http = &http.Client{Transport: tr}
	}
	if cfg.Token != "" {
		c.auth = "OAuth " + cfg.Token.Reveal()
	} else {
		c.auth = "Bearer " + cfg.IAMToken.Reveal()
	}
	c.setLimiter()
	return c, nil
}

// setLimiter builds the fixed or adaptive limiter of a validated config.
func (c *Client) setLimiter() {
	burst := max(c.cfg.Burst, 1)
	switch {
	case c.cfg.Adaptive:
		start, ceiling := c.cfg.RateLimit, c.cfg.RateCeiling
		if start <= 0 { // withDefaults set the ceiling
			start = min(DefaultRateLimit, ceiling)
		}
		if c.deps.Shared != nil {
			c.shared = newShared(c.deps.Shared, BucketParams{Rate: start, Ceiling: ceiling, Burst: burst}, true, c.deps.OnRate)
			return
		}
		c.adapt = newAdaptive(start, ceiling, burst, c.deps.OnRate)
	case c.deps.Shared != nil:
		r := c.cfg.RateLimit
		c.shared = newShared(c.deps.Shared, BucketParams{Rate: r, Ceiling: r, Burst: burst, Fixed: true}, false, nil)
	case c.cfg.RateLimit > 0:
		c.limiter = rate.NewLimiter(rate.Limit(c.cfg.RateLimit), burst)
	}
}

// Requests is the number of HTTP requests sent so far (attempts included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// Retries is the number of attempts that were retries.
func (c *Client) Retries() int64 { return c.retries.Load() }

// Throttled is the number of 429 answers received so far.
func (c *Client) Throttled() int64 { return c.throttled.Load() }

// Rate is the client's current limit in requests per second: the adaptive
// limit as it stands, the fixed RateLimit, or 0 when unlimited.
func (c *Client) Rate() float64 {
	switch {
	case c.adapt != nil:
		return c.adapt.Rate()
	case c.shared != nil:
		return c.shared.Rate()
	case c.limiter != nil:
		return float64(c.limiter.Limit())
	}
	return 0
}

// response is a successful answer: body and headers.
type response struct {
	body   []byte
	header http.Header
}

// do sends one logical request, retrying transient failures. decode, when
// non-nil, is applied to a 200 body; a decode failure is retried as a
// malformed page. path is relative to the API prefix unless it starts with
// the prefix already (links from Link headers).
func (c *Client) do(ctx context.Context, method, path string, body []byte, decode func(*response) error) (*response, error) {
	return c.doWith(ctx, method, path, body, decode, retryable)
}

// doWith is do with the rule that tells which failures may be re-sent.
func (c *Client) doWith(ctx context.Context, method, path string, body []byte, decode func(*response) error, retryIf func(error) bool) (*response, error) {
	if !strings.HasPrefix(path, c.prefix+"/") {
		path = c.prefix + path
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := c.awaitRetry(ctx, attempt, lastErr); err != nil {
				return nil, err
			}
		}
		resp, err := c.attempt(ctx, method, path, body, decode, attempt)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		lastErr = err
		if !retryIf(err) || attempt >= c.cfg.MaxRetries {
			return nil, gaveUp(attempt, err)
		}
		if asked := RetryAfter(err); asked > MaxRetryAfter {
			return nil, gaveUp(attempt, fmt.Errorf("asked to retry after %s, above the %s waited out: %w", asked, MaxRetryAfter, err))
		}
	}
}

// awaitRetry counts a retry and waits its backoff (see backoff); the
// error is ctx's, with the failure lastErr that the retry follows.
func (c *Client) awaitRetry(ctx context.Context, attempt int, lastErr error) error {
	c.retries.Add(1)
	wait := c.backoff(attempt, lastErr)
	t := time.NewTimer(wait)
	select {
	case <-ctx.Done():
		t.Stop()
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
	case <-t.C:
		return nil
	}
}

// attempt sends the request once, reports it to Deps.Observe and applies
// decode to the answer; a decode failure is an error wrapping
// ErrMalformed.
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, decode func(*response) error, attempt int) (*response, error) {
	t0 := time.Now()
	resp, err := c.once(ctx, method, path, body)
	if c.deps.Observe != nil {
		c.observe(method, path, attempt, time.Since(t0), err)
	}
	if err != nil {
		return nil, err
	}
	if decode != nil {
		if derr := decode(resp); derr != nil {
			return nil, fmt.Errorf("tracker %s %s: %w: %v", method, path, ErrMalformed, derr)
		}
	}
	return resp, nil
}

// gaveUp is the error of a call whose last failure, err, is not re-sent:
// it says how many attempts were made when there were several.
func gaveUp(attempt int, err error) error {
	if attempt > 0 {
		return fmt.Errorf("after %d attempts: %w", attempt+1, err)
	}
	return err
}

func (c *Client) observe(method, path string, attempt int, took time.Duration, err error) {
	a := Attempt{Method: method, Path: path, Duration: took, Retry: attempt, Err: err, Status: http.StatusOK}
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		a.Status = ae.Status
	case err != nil:
		a.Status = 0
	}
	c.deps.Observe(a)
}

// refused reports an answer the server gave without doing the work (429):
// re-sending a request that is not idempotent is safe only then.
// A request the shared limit held back was never sent either.
func refused(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests || errors.Is(err, ErrLimitUnavailable)
}

// Retryable reports whether a failed call may succeed if made again later:
// 429, 409, 5xx, network errors, timeouts and malformed answers; not 4xx
// answers such as 401, 403 or 404.
func Retryable(err error) bool { return retryable(err) }

func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusConflict || ae.Status >= 500
	}
	return true // network errors, timeouts and malformed bodies
}

// MaxRetryAfter is the longest Retry-After the client waits out, and the
// longest it pauses its requests for (the adaptive and shared limits). A
// refusal asking for longer is not waited for: the call returns its error
// at once (still retryable and ErrRateLimited), and the pause lasts only
// MaxRetryAfter. Callers that wait between tries of their own (the
// extractor's retry rounds) cap the wait by it too, so that no answer of
// the server holds a pass for longer.
const MaxRetryAfter = 5 * time.Minute

// RetryAfter is the wait Tracker asked for with a refusal (its
// Retry-After), 0 when err carries none. It may exceed MaxRetryAfter.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// backoff is exponential with full jitter, at least Retry-After when the
// server named one (doWith does not wait one above MaxRetryAfter).
func (c *Client) backoff(attempt int, err error) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 16)
	if d > c.cfg.BackoffMax || d <= 0 {
		d = c.cfg.BackoffMax
	}
	d = d/2 + rand.N(d/2+1)
	if asked := RetryAfter(err); asked > 0 && d < asked {
		d = asked + rand.N(asked/4+1)
	}
	return d
}

// once waits for the limiter, then sends one request.
func (c *Client) once(ctx context.Context, method, path string, body []byte) (*response, error) {
	var epoch uint64
	switch {
	case c.adapt != nil:
		e, err := c.adapt.wait(ctx)
		if err != nil {
			return nil, err
		}
		epoch = e
	case c.shared != nil:
		e, err := c.shared.wait(ctx)
		if err != nil {
			return nil, err
		}
		epoch = e
	case c.limiter != nil:
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.send(ctx, method, path, body)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		c.throttled.Add(1)
		switch {
		case c.adapt != nil:
			c.adapt.refused(epoch, ae.RetryAfter)
		case c.shared != nil:
			c.shared.refused(epoch, ae.RetryAfter)
		}
	}
	return resp, err
}

// send sends one request and reads its answer.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("tracker %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", c.auth)
	if c.cfg.OrgID != "" {
		req.Header.Set("X-Org-ID", c.cfg.OrgID)
	} else {
		req.Header.Set("X-Cloud-Org-ID", c.cfg.CloudOrgID)
	}
	req.Header.Set("Accept-Language", c.cfg.Language)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	c.requests.Add(1)
	res, err := c.http.Do(req)
	if err != nil {
		// The URL holds no secret, but keep the error short.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("tracker %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("tracker %s %s: read body: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, apiError(method, path, res, b)
	}
	return &response{body: b, header: res.Header}, nil
}

func apiError(method, path string, res *http.Response, body []byte) *APIError {
	ae := &APIError{Status: res.StatusCode, Method: method, Path: path}
	var eb struct {
		Errors        map[string]any `json:"errors"`
		ErrorMessages []string       `json:"errorMessages"`
	}
	if json.Unmarshal(body, &eb) == nil {
		ae.Messages = eb.ErrorMessages
		for k, v := range eb.Errors {
			ae.Messages = append(ae.Messages, fmt.Sprintf("%s: %v", k, v))
		}
	}
	if ra := res.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.ParseFloat(ra, 64); err == nil && secs >= 0 {
			ae.RetryAfter = time.Duration(secs * float64(time.Second))
		} else if t, err := http.ParseTime(ra); err == nil {
			ae.RetryAfter = time.Until(t)
		}
	}
	return ae
}

// links parses RFC 8288 Link headers into rel → URL.
func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, line := range h.Values("Link") {
		for _, part := range splitLinks(line) {
			part = strings.TrimSpace(part)
			lt, gt := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if lt != 0 || gt < 0 {
				continue
			}
			target := part[1:gt]
			for _, p := range strings.Split(part[gt+1:], ";") {
				p = strings.TrimSpace(p)
				if v, ok := strings.CutPrefix(p, "rel="); ok {
					out[strings.Trim(v, `"`)] = target
				}
			}
		}
	}
	return out
}

// splitLinks splits a Link header on commas outside angle brackets.
func splitLinks(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// pathOf strips scheme and host from a link, keeping path and query.
func pathOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	if u.RawQuery != "" {
		return u.EscapedPath() + "?" + u.RawQuery
	}
	return u.EscapedPath()
}
