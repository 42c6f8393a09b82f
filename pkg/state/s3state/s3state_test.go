package s3state_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/s3state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/statetest"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

// server is an S3 endpoint under test.
type server struct {
	endpoint, accessKey, secretKey string
}

// fakeServer starts gofakes3 in process; handler, when set, wraps its
// handler.
func fakeServer(t *testing.T, wrap func(next http.Handler, backend *s3mem.Backend) http.Handler) server {
	t.Helper()
	backend := s3mem.New()
	var h http.Handler = gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	if wrap != nil {
		h = wrap(h, backend)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return server{endpoint: srv.URL, accessKey: "fake-access", secretKey: "fake-secret"}
}

// realServer returns the S3 server named by TEST_S3_ENDPOINT,
// TEST_S3_ACCESS_KEY and TEST_S3_SECRET_KEY, or skips (fails under CI).
func realServer(t *testing.T) server {
	t.Helper()
	return server{
		endpoint:  testenv.Require(t, "TEST_S3_ENDPOINT"),
		accessKey: testenv.Require(t, "TEST_S3_ACCESS_KEY"),
		secretKey: testenv.Require(t, "TEST_S3_SECRET_KEY"),
	}
}

func (sv server) client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(sv.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(sv.accessKey, sv.secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

var bucketSeq atomic.Int64

// newBucket creates a bucket of its own for the test.
func (sv server) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("statetest-%d-%d", time.Now().UnixNano(), bucketSeq.Add(1))
	c := sv.client()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s at %s: %v", name, sv.endpoint, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &name})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Logf("list bucket %s for cleanup: %v", name, err)
				return
			}
			for _, o := range page.Contents {
				_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: o.Key})
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name}); err != nil {
			t.Logf("delete bucket %s: %v", name, err)
		}
	})
	return name
}

func (sv server) open(t *testing.T, bucket, key string, attempts int) *s3state.Store {
	t.Helper()
	s, err := s3state.Open(context.Background(), s3state.Options{
		Bucket:      bucket,
		ObjectKey:   key,
		Endpoint:    sv.endpoint,
		AccessKey:   sv.accessKey,
		SecretKey:   sv.secretKey,
		MaxAttempts: attempts,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func (sv server) put(t *testing.T, bucket, key, body string) {
	t.Helper()
	_, err := sv.client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

func (sv server) get(t *testing.T, bucket, key string) string {
	t.Helper()
	out, err := sv.client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runConformance(t *testing.T, sv server) {
	bucket := sv.newBucket(t)
	objectFor := func(t *testing.T) string {
		return "conformance/" + strings.ReplaceAll(t.Name(), "/", "_") + ".json"
	}
	statetest.Run(t,
		func(t *testing.T) state.Store { return sv.open(t, bucket, objectFor(t), 0) },
		statetest.WithCorrupt(func(t *testing.T, key string) {
			sv.put(t, bucket, objectFor(t), `{"`+key+`": {"version": 1, "waterm`)
		}),
		statetest.WithOldValues(func(t *testing.T, loc *time.Location, layout string) state.Store {
			s, err := s3state.Open(context.Background(), s3state.Options{
				Bucket: bucket, ObjectKey: objectFor(t), Endpoint: sv.endpoint, AccessKey: sv.accessKey, SecretKey: sv.secretKey,
				LegacyLocation: loc, LegacyLayout: layout,
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		}, func(t *testing.T, key, value string) {
			doc, err := json.Marshal(map[string]string{key: value})
			if err != nil {
				t.Fatal(err)
			}
			sv.put(t, bucket, objectFor(t), string(doc))
		}),
	)
}

func TestConformanceGofakes3(t *testing.T) { runConformance(t, fakeServer(t, nil)) }

func TestConformanceRealServer(t *testing.T) { runConformance(t, realServer(t)) }

// checkConditionalPuts measures which conditional PutObject headers a
// server honours; Save is only safe between concurrent writers on a server
// that honours both. The steps run in order on one object.
func checkConditionalPuts(t *testing.T, sv server) {
	c := sv.client()
	ctx := context.Background()
	bucket := sv.newBucket(t)
	key := "probe.json"
	var firstETag *string
	steps := []struct {
		name        string
		ifMatch     func() *string
		ifNoneMatch *string
		want        int
	}{
		{name: "If-None-Match: * on a missing object", ifNoneMatch: aws.String("*"), want: http.StatusOK},
		{name: "If-None-Match: * on an existing object", ifNoneMatch: aws.String("*"), want: http.StatusPreconditionFailed},
		{name: "If-Match: a wrong ETag", ifMatch: func() *string { return aws.String(`"0123456789abcdef0123456789abcdef"`) }, want: http.StatusPreconditionFailed},
		{name: "If-Match: the current ETag", ifMatch: func() *string { return firstETag }, want: http.StatusOK},
		{name: "If-Match: a stale ETag", ifMatch: func() *string { return firstETag }, want: http.StatusPreconditionFailed},
	}
	for i, st := range steps {
		in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(fmt.Sprintf("v%d", i)), IfNoneMatch: st.ifNoneMatch}
		if st.ifMatch != nil {
			in.IfMatch = st.ifMatch()
		}
		status := http.StatusOK
		out, err := c.PutObject(ctx, in)
		if err != nil {
			var re *awshttp.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("%s: %v", st.name, err)
			}
			status = re.HTTPStatusCode()
		} else if firstETag == nil {
			firstETag = out.ETag
		}
		t.Logf("%s: %s → HTTP %d", sv.endpoint, st.name, status)
		if status != st.want {
			t.Errorf("%s: %s → HTTP %d, want %d", sv.endpoint, st.name, status, st.want)
		}
	}
}

func TestConditionalPutsGofakes3(t *testing.T) { checkConditionalPuts(t, fakeServer(t, nil)) }

func TestConditionalPutsRealServer(t *testing.T) { checkConditionalPuts(t, realServer(t)) }

// meddler wraps the fake server so that, before each of the first n
// conditional PUTs of an object, another writer stores a new version of
// it with a key of its own: every such conditional write must lose.
func meddler(n int64, puts *atomic.Int64) func(http.Handler, *s3mem.Backend) http.Handler {
	return func(next http.Handler, backend *s3mem.Backend) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conditional := r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != ""
			if r.Method == http.MethodPut && conditional {
				i := puts.Add(1)
				if i <= n {
					parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
					doc := fmt.Sprintf(`{"meddler-%d": {"version": 1, "watermark": "2024-01-01T00:00:00Z"}}`, i)
					if _, err := backend.PutObject(parts[0], parts[1], nil, strings.NewReader(doc), int64(len(doc)), nil); err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestSaveRetriesLostConditionalWrites(t *testing.T) {
	tests := []struct {
		name         string
		meddle       int64 // conditional PUTs that lose
		attempts     int
		wantErr      error
		wantPuts     int64
		wantMeddler  string // key of the other writer that must survive
		wantOurValue bool
	}{
		{name: "wins on the third attempt, keeping the other writer's key", meddle: 2, attempts: 5, wantPuts: 3, wantMeddler: "meddler-2", wantOurValue: true},
		{name: "gives up after its attempts", meddle: 100, attempts: 4, wantErr: state.ErrConflict, wantPuts: 4, wantMeddler: "meddler-4"},
		{name: "first attempt wins without interference", meddle: 0, attempts: 1, wantPuts: 1, wantOurValue: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var puts atomic.Int64
			sv := fakeServer(t, meddler(tt.meddle, &puts))
			bucket := sv.newBucket(t)
			s := sv.open(t, bucket, "state.json", tt.attempts)
			defer s.Close()
			err := s.Save(context.Background(), "ours", state.State{Watermark: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), RunID: "ours"})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Save: err=%v, want %v", err, tt.wantErr)
			}
			if got := puts.Load(); got != tt.wantPuts {
				t.Errorf("conditional PUTs = %d, want %d", got, tt.wantPuts)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal([]byte(sv.get(t, bucket, "state.json")), &doc); err != nil {
				t.Fatal(err)
			}
			if _, ok := doc[tt.wantMeddler]; tt.wantMeddler != "" && !ok {
				t.Errorf("object lost the other writer's key %q: %v", tt.wantMeddler, doc)
			}
			if _, ok := doc["ours"]; ok != tt.wantOurValue {
				t.Errorf("object has our key: %v, want %v (%v)", ok, tt.wantOurValue, doc)
			}
		})
	}
}

// TestOldToolObject opens, through state.Open, the object the old tool
// wrote with EXPORTER_STATE__JSONFILE_STRATEGY=s3 and its default path.
func TestOldToolObject(t *testing.T) {
	sv := fakeServer(t, nil)
	bucket := sv.newBucket(t)
	sv.put(t, bucket, "state.json", "{\n  \"tracker_etl_default\": \"2024-03-05 14:07:33\",\n  \"other\": \"2024-01-01 00:00:00\"\n}")
	cfg := state.Config{
		JSONFileStrategy: state.StrategyS3,
		JSONFilePath:     "state", // the old tool appends ".json"
		S3Bucket:         bucket,
		S3Endpoint:       sv.endpoint,
		S3AccessKey:      setting.Secret(sv.accessKey),
		S3SecretKey:      setting.Secret(sv.secretKey),
	}
	ctx := context.Background()
	s, err := state.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg, err)
	}
	defer s.Close()
	got, ok, err := s.Load(ctx, state.DefaultKey)
	want := time.Date(2024, 3, 5, 11, 7, 33, 0, time.UTC)
	if err != nil || !ok || !got.Watermark.Equal(want) {
		t.Fatalf("Load(%q) = %v, ok=%v, err=%v; want %v", state.DefaultKey, got.Watermark, ok, err, want)
	}
	if err := s.Save(ctx, state.DefaultKey, state.State{Watermark: want.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	body := sv.get(t, bucket, "state.json")
	if !strings.Contains(body, `"other": "2024-01-01 00:00:00"`) || !strings.Contains(body, `"watermark": "2024-03-05T12:07:33Z"`) {
		t.Errorf("object after Save:\n%s\nwant the other key untouched and the new watermark", body)
	}
}

func TestMissingBucketIsAnError(t *testing.T) {
	sv := fakeServer(t, nil)
	s := sv.open(t, "no-such-bucket", "state.json", 0)
	defer s.Close()
	ctx := context.Background()
	if _, ok, err := s.Load(ctx, "k"); err == nil || ok || errors.Is(err, state.ErrCorrupt) {
		t.Errorf("Load from a missing bucket: ok=%v, err=%v; want a plain error, not 'no state'", ok, err)
	}
	if err := s.Save(ctx, "k", state.State{Watermark: time.Now()}); err == nil || errors.Is(err, state.ErrConflict) {
		t.Errorf("Save to a missing bucket: err=%v, want a plain error", err)
	}
}

func TestOpenValidates(t *testing.T) {
	const secret = "very-secret-key-123"
	tests := []struct {
		name     string
		opts     s3state.Options
		wantErrs []string
	}{
		{name: "everything missing", opts: s3state.Options{SecretKey: secret, MaxAttempts: -1},
			wantErrs: []string{"bucket is required", "both the access key and the secret key", "negative"}},
		{name: "access key without secret", opts: s3state.Options{Bucket: "b", AccessKey: "a"},
			wantErrs: []string{"both the access key and the secret key"}},
		{name: "valid with static keys", opts: s3state.Options{Bucket: "b", AccessKey: "a", SecretKey: secret, Endpoint: "http://127.0.0.1:1"}},
		{name: "valid with the default chain", opts: s3state.Options{Bucket: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := s3state.Open(context.Background(), tt.opts)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = s.Close()
				return
			}
			if err == nil {
				t.Fatalf("Open: nil error, want %q", tt.wantErrs)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Open error reveals the secret key: %q", err)
			}
		})
	}
}
