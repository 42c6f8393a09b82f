// Package statecore holds the watermark types, errors and encoding shared by
// package state and its backends.
//
// It exists only to break the import cycle between package state (whose Open
// builds every backend) and the backends (which return state values): package
// state re-exports everything here under the same names, and callers use
// those. Nothing in this package does I/O.
package statecore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultKey is the state key of the old tool ("tracker_etl_default"); an
// extractor that is the only one using its store keeps it.
const DefaultKey = "tracker_etl_default"

// DefaultLegacyZone is the zone the old tool wrote its watermark strings in
// unless EXPORTER_TRACKER__TIMEZONE said otherwise.
const DefaultLegacyZone = "Europe/Moscow"

// Legacy says how the old tool wrote its watermark strings: the wall-clock
// time of the watermark in Location (its EXPORTER_TRACKER__TIMEZONE),
// formatted with its EXPORTER_DATETIME_QUERY_FORMAT. The zero value means
// DefaultLegacyZone and the default format.
type Legacy struct {
	// Location is the zone of strings without an offset; nil means
	// DefaultLegacyZone.
	Location *time.Location
	// Layout is the Go layout of the old tool's query format (pkg/config
	// converts the strftime format), tried before the fixed layouts; empty
	// means the fixed layouts only, which include the default format.
	Layout string
}

// valueVersion is the version of the JSON object written for one key.
const valueVersion = 1

// ErrCorrupt is returned (wrapped) when stored state exists but cannot be
// read: a document or value that is not valid JSON, a value of the wrong
// shape, an unparsable time, or a format written by a newer version. It is
// never returned for state that simply does not exist.
var ErrCorrupt = errors.New("corrupt state")

// ErrConflict is returned (wrapped) by Save when concurrent writers kept
// winning the conditional write and the store gave up after its attempts.
var ErrConflict = errors.New("state write conflict")

// State is what an extractor keeps between runs under one key.
type State struct {
	// Watermark is the point from which issues still need exporting: every
	// issue updated at or after it may not have been exported yet. Stores
	// return it in UTC.
	Watermark time.Time
	// UpdatedAt is when the state was saved. Save fills it with the current
	// time when it is zero. Stores return it in UTC.
	UpdatedAt time.Time
	// FailedKeys lists the issues that failed during the run that saved the
	// state; the next run retries them. Nil when there were none.
	FailedKeys []string
	// RunID identifies the run that saved the state (free-form, for logs).
	RunID string
}

// Store keeps one State per key. Implementations are safe for concurrent
// use by several goroutines, and several Stores (in one or several
// processes) may share the same underlying storage with different keys.
type Store interface {
	// Load returns the state saved under key. ok is false, with a nil
	// error, when no state exists for key yet. State that exists but
	// cannot be read returns an error wrapping ErrCorrupt; storage that
	// cannot be reached returns its own error. Load blocks until the
	// storage answers or ctx ends.
	Load(ctx context.Context, key string) (s State, ok bool, err error)
	// Save stores s under key atomically: a concurrent or later Load sees
	// either the previous state or s, never a mix, and states saved under
	// other keys are kept. It returns an error wrapping ErrConflict when
	// concurrent writers kept it from completing, and ErrCorrupt when the
	// storage holds a document it will not overwrite. Save blocks until the
	// state is durable or ctx ends.
	Save(ctx context.Context, key string, s State) error
	// Close releases the resources of the Store. It does not wait for
	// calls in progress; calls made after Close fail. Calling Close again
	// returns nil.
	Close() error
}

// CheckKey reports an empty key, the one key no backend accepts.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("empty state key")
	}
	return nil
}

// value is the JSON object stored for one key.
type value struct {
	Version    int      `json:"version"`
	Watermark  string   `json:"watermark"`
	UpdatedAt  string   `json:"updated_at,omitempty"`
	FailedKeys []string `json:"failed_keys,omitempty"`
	RunID      string   `json:"run_id,omitempty"`
}

// EncodeValue returns the JSON object that stores s. A zero UpdatedAt is
// replaced by now. Times are written in UTC with nanoseconds (RFC 3339).
func EncodeValue(s State, now time.Time) ([]byte, error) {
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	for name, t := range map[string]time.Time{"watermark": s.Watermark, "updated_at": s.UpdatedAt} {
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return nil, fmt.Errorf("encode state: %s %s is outside years 0 to 9999", name, t.UTC())
		}
	}
	v := value{
		Version:    valueVersion,
		Watermark:  s.Watermark.UTC().Format(time.RFC3339Nano),
		UpdatedAt:  s.UpdatedAt.UTC().Format(time.RFC3339Nano),
		FailedKeys: slices.Clone(s.FailedKeys),
		RunID:      s.RunID,
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return b, nil
}

// DecodeValue reads the value stored for one key. It accepts the JSON
// object written by EncodeValue and the old tool's value: a string (JSON
// or, as the old tool left it in Redis, bare) holding a local time such as
// "2024-03-05 14:07:33" that is read as legacy says (ParseLegacyTime). A
// JSON null means no state (ok is false). Anything else returns an error
// wrapping ErrCorrupt.
func DecodeValue(raw []byte, legacy Legacy) (State, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return State{}, false, fmt.Errorf("empty value: %w", ErrCorrupt)
	}
	if !json.Valid(raw) {
		// The old tool stored a bare string in Redis.
		t, err := ParseLegacyTime(string(raw), legacy)
		if err != nil {
			return State{}, false, fmt.Errorf("value is neither JSON nor a time (%v): %w", err, ErrCorrupt)
		}
		return State{Watermark: t}, true, nil
	}
	switch raw[0] {
	case 'n':
		return State{}, false, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return State{}, false, fmt.Errorf("decode string value: %v: %w", err, ErrCorrupt)
		}
		t, err := ParseLegacyTime(s, legacy)
		if err != nil {
			return State{}, false, fmt.Errorf("old-format watermark: %v: %w", err, ErrCorrupt)
		}
		return State{Watermark: t}, true, nil
	case '{':
		return decodeObject(raw)
	default:
		return State{}, false, fmt.Errorf("value is JSON %s, want an object or a string: %w", kind(raw[0]), ErrCorrupt)
	}
}

func decodeObject(raw []byte) (State, bool, error) {
	var v value
	if err := json.Unmarshal(raw, &v); err != nil {
		return State{}, false, fmt.Errorf("decode state object: %v: %w", err, ErrCorrupt)
	}
	if v.Version < 1 || v.Version > valueVersion {
		return State{}, false, fmt.Errorf("state object version %d, this program reads 1 to %d: %w", v.Version, valueVersion, ErrCorrupt)
	}
	wm, err := time.Parse(time.RFC3339Nano, v.Watermark)
	if err != nil {
		return State{}, false, fmt.Errorf("state watermark %q: %v: %w", v.Watermark, err, ErrCorrupt)
	}
	s := State{Watermark: wm.UTC(), FailedKeys: v.FailedKeys, RunID: v.RunID}
	if v.UpdatedAt != "" {
		u, err := time.Parse(time.RFC3339Nano, v.UpdatedAt)
		if err != nil {
			return State{}, false, fmt.Errorf("state updated_at %q: %v: %w", v.UpdatedAt, err, ErrCorrupt)
		}
		s.UpdatedAt = u.UTC()
	}
	if len(s.FailedKeys) == 0 {
		s.FailedKeys = nil
	}
	return s, true, nil
}

func kind(c byte) string {
	switch c {
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

// Layouts of the old tool's watermark strings, tried after Legacy.Layout.
// Its default EXPORTER_DATETIME_QUERY_FORMAT is "%Y-%m-%d %H:%M:%S"; the
// others cover ISO-like formats a user could have configured. Go accepts fractional
// seconds after the seconds field even when the layout has none.
var (
	zonedLayouts = []string{
		time.RFC3339,
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02T15:04:05-0700",
		"2006-01-02 15:04:05-0700",
		"2006-01-02T15:04:05 -0700",
		"2006-01-02 15:04:05 -0700",
	}
	localLayouts = []string{
		"2006-01-02 15:04:05",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04",
		"2006-01-02T15:04",
		"2006-01-02",
	}
)

// ParseLegacyTime parses a watermark string of the old tool and returns it
// in UTC. It tries legacy.Layout first, the format the old tool wrote it
// with, then the fixed layouts. A string without a zone offset is read as a
// wall-clock time in legacy.Location (nil means DefaultLegacyZone), as the
// old tool wrote it in EXPORTER_TRACKER__TIMEZONE.
func ParseLegacyTime(s string, legacy Legacy) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc := LegacyLocation(legacy.Location)
	if legacy.Layout != "" {
		if t, err := time.ParseInLocation(legacy.Layout, s, loc); err == nil {
			return inRange(s, t.UTC())
		}
	}
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return inRange(s, t.UTC())
		}
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return inRange(s, t.UTC())
		}
	}
	if legacy.Layout != "" {
		return time.Time{}, fmt.Errorf("time %q matches neither the query format's layout %q nor a known layout (like 2006-01-02 15:04:05)", s, legacy.Layout)
	}
	return time.Time{}, fmt.Errorf("time %q matches no known layout (like 2006-01-02 15:04:05)", s)
}

// inRange refuses times that EncodeValue could not write back.
func inRange(s string, t time.Time) (time.Time, error) {
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("time %q is outside years 1 to 9999", s)
	}
	return t, nil
}

// LegacyLocation returns loc, or the old tool's default zone when loc is
// nil. Europe/Moscow has been UTC+3 without daylight saving since 2014,
// before the old tool existed, so when the system has no zone database a
// fixed +03:00 zone reads its watermarks exactly.
func LegacyLocation(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	if l, err := time.LoadLocation(DefaultLegacyZone); err == nil {
		return l
	}
	return time.FixedZone("MSK", 3*60*60)
}

// DecodeDocument reads a document holding the values of several keys (the
// JSON file, the S3 object): a JSON object mapping each key to its value, as
// the old tool wrote it. A JSON null reads as an empty document. Anything
// else, an empty input included, returns an error wrapping ErrCorrupt.
func DecodeDocument(data []byte) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("empty document: %w", ErrCorrupt)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("document is not a JSON object: %v: %w", err, ErrCorrupt)
	}
	if doc == nil {
		doc = map[string]json.RawMessage{}
	}
	return doc, nil
}

// EncodeDocument writes a document with sorted keys and two-space
// indentation (as the old tool did), ending with a newline.
func EncodeDocument(doc map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode state document: %w", err)
	}
	return buf.Bytes(), nil
}

// LoadFromDocument decodes the value of key in a document read by
// DecodeDocument; ok is false when the document has no such key.
func LoadFromDocument(doc map[string]json.RawMessage, key string, legacy Legacy) (State, bool, error) {
	raw, found := doc[key]
	if !found {
		return State{}, false, nil
	}
	s, ok, err := DecodeValue(raw, legacy)
	if err != nil {
		return State{}, false, fmt.Errorf("key %q: %w", key, err)
	}
	return s, ok, nil
}
