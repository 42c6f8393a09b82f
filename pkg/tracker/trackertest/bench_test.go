package trackertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// serve runs one request through the handler without a network.
func serve(b testing.TB, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://tracker.test"+target, strings.NewReader(body))
	req.Header.Set("Authorization", "OAuth x")
	req.Header.Set("X-Org-ID", "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %.200s", method, target, rec.Code, rec.Body.Bytes())
	}
	return rec
}

// BenchmarkSearchPage1000 renders one page-mode page of 1000 issues out of
// 100 000 (Updated range query sorted by Updated).
func BenchmarkSearchPage1000(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	h := s.Handler()
	body := `{"query":"Queue: DEV, SRE, OPS, SUP, TEST and Updated: >= \"2026-01-01 00:00:00\" \"Sort by\": Updated ASC"}`
	var size int
	for b.Loop() {
		size = serve(b, h, "POST", "/v2/issues/_search?perPage=1000&page=3", body).Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkScrollPage1000 serves later pages of an unsorted scroll.
func BenchmarkScrollPage1000(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	h := s.Handler()
	body := `{"query":"Updated: >= now()-400d"}`
	first := serve(b, h, "POST", "/v2/issues/_search?scrollType=unsorted&perScroll=1000", body)
	id := first.Header().Get("X-Scroll-Id")
	for b.Loop() {
		serve(b, h, "POST", "/v2/issues/_search?scrollId="+id, body)
	}
}

// BenchmarkScrollStart measures the first request of a scroll over 100 000
// issues (snapshot of the whole result).
func BenchmarkScrollStart(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	h := s.Handler()
	for b.Loop() {
		serve(b, h, "POST", "/v2/issues/_search?scrollType=unsorted&perScroll=1000", `{"query":"Queue: !TRASH"}`)
	}
}

// BenchmarkChangelogPage serves changelog pages of 50 entries of issues
// not in the cache, as an extractor does.
func BenchmarkChangelogPage(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	h := s.Handler()
	keys := s.IssueKeys()
	i := 0
	for b.Loop() {
		serve(b, h, "GET", "/v2/issues/"+keys[(i*7919)%len(keys)]+"/changelog?perPage=50", "")
		i++
	}
}

// BenchmarkGenerate measures generating one issue with its changelog.
func BenchmarkGenerate(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	i := 0
	for b.Loop() {
		s.generate(i%100_000, true)
		i++
	}
}

// BenchmarkGenerateState measures generating one issue's state only.
func BenchmarkGenerateState(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	i := 0
	for b.Loop() {
		s.generate(i%100_000, false)
		i++
	}
}

// BenchmarkChangelogHTTPParallel fetches whole changelogs (perPage 100)
// over loopback HTTP from parallel clients, as the extractor does.
func BenchmarkChangelogHTTPParallel(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	base := s.Start()
	defer s.Close()
	keys := s.IssueKeys()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := keys[(next.Add(1)*7919)%int64(len(keys))]
			req, _ := http.NewRequest("GET", base+"/v2/issues/"+key+"/changelog?perPage=100", nil)
			req.Header.Set("Authorization", "OAuth x")
			req.Header.Set("X-Org-ID", "1")
			r, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
