package tracker

import (
	"net/http"
	"net/url"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// DefaultBaseURL is Tracker's public API host.
const DefaultBaseURL = "https://api.tracker.yandex.net"

// Config configures a Client: a plain value, built with Default and checked
// with Validate. Exactly one of Token (OAuth) and IAMToken, and exactly one
// of OrgID (Yandex 360) and CloudOrgID are required, in any combination
// (the old tool's configuration rule). The env tag of a field names the
// variable that sets it (pkg/config maps it; Validate's problems name
// fields, which pkg/config turns into these names).
type Config struct {
	// BaseURL is the API root without the version.
	BaseURL string `env:"EXPORTER_TRACKER__API_URL"`
	// APIVersion is "v2" or "v3".
	APIVersion string `env:"EXPORTER_TRACKER__API_VERSION"`
	// Token is an OAuth token.
	Token setting.Secret `env:"EXPORTER_TRACKER__TOKEN"`
	// IAMToken is a Yandex Cloud IAM token, sent as "Authorization: Bearer".
	// Tracker takes one only for an organization linked to Yandex Cloud: with
	// CloudOrgID, or with OrgID when the organization is linked to Yandex
	// 360 too (Tracker's docs: X-Org-ID when both are linked).
	IAMToken setting.Secret `env:"EXPORTER_TRACKER__IAM_TOKEN"`
	// OrgID is a Yandex 360 organization, sent as X-Org-ID.
	OrgID string `env:"EXPORTER_TRACKER__ORG_ID"`
	// CloudOrgID is a Yandex Cloud organization, sent as X-Cloud-Org-ID.
	CloudOrgID string `env:"EXPORTER_TRACKER__CLOUD_ORG_ID"`
	// Language is "en" or "ru", sent as Accept-Language.
	Language string `env:"EXPORTER_TRACKER__LANGUAGE"`
	// Timeout bounds one HTTP request.
	Timeout time.Duration `env:"EXPORTER_TRACKER__TIMEOUT"`
	// MaxRetries is the number of retries after the first attempt for 429,
	// 5xx, network and decode errors, 0..100.
	MaxRetries int `env:"EXPORTER_TRACKER__MAX_RETRIES"`
	// RateLimit caps requests per second across the client (0: unlimited)
	// or, with Adaptive, is the rate the adaptive limit starts from (0:
	// DefaultRateLimit, or RateCeiling if lower).
	RateLimit float64 `env:"EXPORTER_TRACKER__RATE_LIMIT"`
	// Adaptive makes the limit follow the server, which documents no limit
	// but answers 429 above one: it rises while no 429 comes, by 3 % for
	// each second of sending at the limit, or by 0.5 % from 90 % of the
	// limit at which the last 429 came until 5 % past it; a 429 (once for
	// the requests in flight together) lowers it to 70 %, to 80 % near
	// that limit, to 40 % if the limit had barely risen since the start or
	// the previous 429, and pauses every request for the 429's
	// Retry-After. It never exceeds RateCeiling. Default turns it on; the
	// zero value, false, keeps the fixed RateLimit.
	Adaptive bool `env:"EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE"`
	// RateCeiling is the most requests per second the adaptive limit
	// reaches; not below RateLimit. Unused without Adaptive.
	RateCeiling float64 `env:"EXPORTER_TRACKER__RATE_LIMIT_MAX"`
	// Burst is the token bucket size of the fixed or adaptive limit
	// (1: requests are spread evenly).
	Burst int
	// BackoffBase and BackoffMax bound the exponential backoff with jitter.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// UserAgent is sent with every request when set.
	UserAgent string
}

// Deps are what a Client uses besides its Config; every field is optional.
type Deps struct {
	// Shared, when set, keeps the fixed or adaptive limit in a bucket that
	// other Clients, in this process or others, draw from too: together
	// they send at most RateLimit (or the adaptive rate) with Burst. A
	// client reserves a few tokens at a time (a tenth of a second's worth,
	// 1 to 8) and spends each within one interval of the time the bucket
	// gave it, so that over any window w the clients together send at most
	// Burst + 1 + rate·w requests, given clocks that agree (each call
	// passes the caller's time). With Adaptive, a 429 seen by any client
	// lowers the rate for all, once for the requests in flight together,
	// and pauses all for its Retry-After; the rate steps up for all when
	// all together used it. A request that cannot reach the bucket fails
	// with ErrLimitUnavailable (retried as a network error). It needs a
	// RateLimit or Adaptive; OnRate reports the shared rate as this client
	// sees it.
	Shared SharedBucket
	// OnRate, when set, is called with the new limit in requests per second
	// each time the adaptive limit changes: after a 429 lowers it and at
	// each step up (at most about once a second). Calls come one at a time,
	// in order, while the limiter is locked: it must be quick and must not
	// send requests with this Client (Rate and the counters may be read).
	OnRate func(rps float64)
	// Observe, when set, is called after every HTTP attempt (for debug
	// logs and metrics). It must be safe for concurrent use and quick.
	Observe func(Attempt)
	// HTTPClient sends the requests; nil uses a client with a pool of 64
	// idle connections per host.
	HTTPClient *http.Client
}

// Default returns the settings of the old tool and of this client: the
// public API v2 in English, 10 s per request, 10 retries, an adaptive
// limit from DefaultRateLimit up to DefaultRateCeiling. Credentials and
// organization are left empty.
func Default() Config {
	return Config{
		BaseURL:     DefaultBaseURL,
		APIVersion:  "v2",
		Language:    "en",
		Timeout:     10 * time.Second,
		MaxRetries:  10,
		RateLimit:   DefaultRateLimit,
		Adaptive:    true,
		RateCeiling: DefaultRateCeiling,
		Burst:       1,
		BackoffBase: 200 * time.Millisecond,
		BackoffMax:  30 * time.Second,
	}
}

// withDefaults gives the fields whose zero value means nothing Default's
// value (for the adaptive ceiling: DefaultRateCeiling, or the start rate
// if higher) and clamps a negative MaxRetries to 0.
func (c Config) withDefaults() Config {
	d := Default()
	for _, f := range []struct {
		v   *string
		def string
	}{{&c.BaseURL, d.BaseURL}, {&c.APIVersion, d.APIVersion}, {&c.Language, d.Language}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.Timeout, d.Timeout}, {&c.BackoffBase, d.BackoffBase}, {&c.BackoffMax, d.BackoffMax}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	c.MaxRetries = max(c.MaxRetries, 0)
	if c.Adaptive && c.RateCeiling <= 0 {
		start := c.RateLimit
		if start <= 0 {
			start = DefaultRateLimit
		}
		c.RateCeiling = max(DefaultRateCeiling, start)
	}
	return c
}

// Validate reports every problem of c at once: errors.Join of one
// *setting.Problem per problem, naming the field.
func (c Config) Validate() error {
	var p setting.Problems
	switch {
	case c.Token.IsSet() && c.IAMToken.IsSet():
		p.Add("Token", nil, "%s and %s are both set; set one", setting.Ref("Token"), setting.Ref("IAMToken"))
	case !c.Token.IsSet() && !c.IAMToken.IsSet():
		p.Add("Token", nil, "not set; set it (OAuth) or %s", setting.Ref("IAMToken"))
	}
	switch {
	case c.OrgID != "" && c.CloudOrgID != "":
		p.Add("OrgID", nil, "%s and %s are both set; set one", setting.Ref("OrgID"), setting.Ref("CloudOrgID"))
	case c.OrgID == "" && c.CloudOrgID == "":
		p.Add("OrgID", nil, "not set; set it (Yandex 360) or %s (Yandex Cloud)", setting.Ref("CloudOrgID"))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		p.Add("BaseURL", c.BaseURL, "want an http(s) URL like %s", DefaultBaseURL)
	}
	p.OneOf("APIVersion", c.APIVersion, "v2", "v3")
	p.Positive("Timeout", c.Timeout)
	p.IntRange("MaxRetries", c.MaxRetries, 0, 100)
	p.OneOf("Language", c.Language, "en", "ru")
	if c.RateLimit < 0 {
		p.Add("RateLimit", c.RateLimit, "want 0 (no limit) or more")
	}
	switch {
	case !c.Adaptive:
	case c.RateCeiling <= 0:
		p.Add("RateCeiling", c.RateCeiling, "want more than 0")
	case c.RateCeiling < c.RateLimit:
		p.Add("RateCeiling", c.RateCeiling, "want at least %s (%g), the rate the adaptive limit starts from", setting.Ref("RateLimit"), c.RateLimit)
	}
	return p.Err()
}
