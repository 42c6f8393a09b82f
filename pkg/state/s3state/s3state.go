// Package s3state is the state backend that keeps every key in one JSON
// object on any S3-compatible server (AWS, Yandex Object Storage, MinIO,
// versitygw, ...).
//
// The object holds the same document as the jsonfile backend (a JSON object
// mapping each state key to its value), so it reads the old tool's object
// with EXPORTER_STATE__JSONFILE_STRATEGY=s3 as it is. One object per store
// rather than one per key keeps that compatibility; the price is that
// writers of different keys contend for the object, which conditional
// writes make safe: Save reads the object and its ETag, sets its key and
// puts the object back with If-Match: <ETag> (If-None-Match: * when the
// object did not exist). When another writer got there first the server
// answers 412, and Save reads again and retries with a jittered, growing
// delay, up to Options.MaxAttempts times before returning state.ErrConflict.
// The server must honour these headers (AWS since 2024, versitygw, recent
// MinIO); a server that ignores them degrades to last-writer-wins between
// concurrent writers.
package s3state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tracker-exporter/tracker-exporter/pkg/state/internal/statecore"
)

// Defaults of Options.
const (
	DefaultObjectKey   = "state.json"
	DefaultRegion      = "us-east-1"
	DefaultMaxAttempts = 16
)

// Delays between conflicting attempts: full jitter over a window that
// doubles from retryBase up to retryCap.
const (
	retryBase = 10 * time.Millisecond
	retryCap  = 400 * time.Millisecond
)

// Options configures a Store.
type Options struct {
	// Bucket is the bucket holding the object; it must exist. Required.
	Bucket string
	// ObjectKey is the key of the object; DefaultObjectKey when empty.
	ObjectKey string
	// Region is the signing region; DefaultRegion when empty.
	Region string
	// Endpoint is the server's base URL, such as
	// "https://storage.yandexcloud.net" or "http://127.0.0.1:7070". Empty
	// means AWS. With an endpoint, requests use path-style addressing.
	Endpoint string
	// AccessKey and SecretKey are static credentials; give both or
	// neither. Neither means the AWS default chain (AWS_ACCESS_KEY_ID and
	// friends, shared files, instance roles).
	AccessKey string
	SecretKey string
	// MaxAttempts bounds the conditional writes one Save tries;
	// DefaultMaxAttempts when zero.
	MaxAttempts int
	// LegacyLocation is the zone of the old tool's watermark strings;
	// nil means Europe/Moscow, its default.
	LegacyLocation *time.Location
	// LegacyLayout is the Go layout of the old tool's
	// EXPORTER_DATETIME_QUERY_FORMAT, in which it wrote its watermark
	// strings; tried before the fixed layouts. Empty: the fixed layouts
	// only, which read the default format.
	LegacyLayout string
	// HTTPClient replaces the SDK's HTTP client when set.
	HTTPClient *http.Client
}

// Store keeps state in one S3 object. It is safe for concurrent use; it
// takes no lock of its own, so concurrent Saves of one Store contend
// through the server like those of separate processes.
type Store struct {
	client   *s3.Client
	bucket   string
	key      string
	attempts int
	legacy   statecore.Legacy
	closed   atomic.Bool
}

// Open validates o and returns a Store. It reads the AWS shared
// configuration when no static credentials are given, and does no network
// I/O. Errors never contain the secret key.
func Open(ctx context.Context, o Options) (*Store, error) {
	var problems []error
	if o.Bucket == "" {
		problems = append(problems, errors.New("s3state: bucket is required"))
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		problems = append(problems, errors.New("s3state: give both the access key and the secret key, or neither to use the AWS default credentials"))
	}
	if o.MaxAttempts < 0 {
		problems = append(problems, fmt.Errorf("s3state: max attempts %d is negative", o.MaxAttempts))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if o.ObjectKey == "" {
		o.ObjectKey = DefaultObjectKey
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.Region)}
	if o.AccessKey != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, awsconfig.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3state: load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
		// S3-compatible servers often reject the SDK's default trailing
		// checksums; send them only where the API requires them.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{
		client:   client,
		bucket:   o.Bucket,
		key:      o.ObjectKey,
		attempts: o.MaxAttempts,
		legacy:   statecore.Legacy{Location: statecore.LegacyLocation(o.LegacyLocation), Layout: o.LegacyLayout},
	}, nil
}

func (s *Store) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("s3state s3://%s/%s: %w", s.bucket, s.key, fs.ErrClosed)
	}
	return statecore.CheckKey(key)
}

// Load returns the state saved under key. A missing object or key returns
// ok=false; an object that is not a JSON document, or a value that cannot
// be read, returns an error wrapping state.ErrCorrupt; server and network
// errors (a missing bucket included) are returned wrapped.
func (s *Store) Load(ctx context.Context, key string) (statecore.State, bool, error) {
	if err := s.check(ctx, key); err != nil {
		return statecore.State{}, false, fmt.Errorf("load state %q: %w", key, err)
	}
	doc, _, err := s.get(ctx)
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state %q: %w", key, err)
	}
	st, ok, err := statecore.LoadFromDocument(doc, key, s.legacy)
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state from s3://%s/%s: %w", s.bucket, s.key, err)
	}
	return st, ok, nil
}

// get returns the document and its ETag; a missing object is an empty
// document with an empty ETag.
func (s *Store) get(ctx context.Context) (map[string]json.RawMessage, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &s.key})
	if err != nil {
		if isNoSuchKey(err) {
			return map[string]json.RawMessage{}, "", nil
		}
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", s.bucket, s.key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("read s3://%s/%s: %w", s.bucket, s.key, err)
	}
	etag := aws.ToString(out.ETag)
	if etag == "" {
		return nil, "", fmt.Errorf("get s3://%s/%s: the server sent no ETag, which conditional writes need", s.bucket, s.key)
	}
	doc, err := statecore.DecodeDocument(data)
	if err != nil {
		return nil, "", fmt.Errorf("object s3://%s/%s: %w", s.bucket, s.key, err)
	}
	return doc, etag, nil
}

// Save stores st under key, keeping the other keys of the object, with
// the conditional read-modify-write described in the package comment. It
// returns an error wrapping state.ErrConflict when every attempt lost to
// another writer, and one wrapping state.ErrCorrupt, without writing, when
// the object is not a JSON document (rewriting it would drop other keys).
func (s *Store) Save(ctx context.Context, key string, st statecore.State) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	val, err := statecore.EncodeValue(st, time.Now())
	if err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	window := retryBase
	for attempt := 1; ; attempt++ {
		err := s.tryPut(ctx, key, val)
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return fmt.Errorf("save state %q: %w", key, err)
		}
		if attempt >= s.attempts {
			return fmt.Errorf("save state %q to s3://%s/%s: %d conditional writes lost to other writers: %w",
				key, s.bucket, s.key, attempt, statecore.ErrConflict)
		}
		t := time.NewTimer(rand.N(window) + time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("save state %q: %w", key, ctx.Err())
		case <-t.C:
		}
		window = min(2*window, retryCap)
	}
}

// tryPut does one read-modify-write; a lost race returns an error for
// which isConflict is true.
func (s *Store) tryPut(ctx context.Context, key string, val json.RawMessage) error {
	doc, etag, err := s.get(ctx)
	if err != nil {
		if errors.Is(err, statecore.ErrCorrupt) {
			return fmt.Errorf("not overwriting the other keys of a corrupt object (fix or remove it): %w", err)
		}
		return err
	}
	doc[key] = val
	data, err := statecore.EncodeDocument(doc)
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:      &s.bucket,
		Key:         &s.key,
		Body:        bytes.NewReader(data),
		ContentType: aws.String("application/json"),
	}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, s.key, err)
	}
	return nil
}

// isNoSuchKey reports a GetObject error for a missing object (not a
// missing bucket).
func isNoSuchKey(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey"
}

// isConflict reports a conditional PutObject that lost to another writer:
// 412 Precondition Failed, 409 ConditionalRequestConflict (AWS, for
// overlapping conditional writes), or 404 NoSuchKey (If-Match on an object
// deleted in the meantime).
func isConflict(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusPreconditionFailed:
			return true
		case http.StatusConflict:
			var ae smithy.APIError
			return errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict"
		}
	}
	return isNoSuchKey(err)
}

// Close marks the Store closed; later calls fail with fs.ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
