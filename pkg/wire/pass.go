package wire

import (
	"encoding/hex"
	"fmt"
	"time"
)

// Pass manifests: every extraction pass publishes what it found, so that
// ClickHouse can be reconciled with it at any time (tracker-exporter
// verify). The stream keeps them for a week.
const (
	PassStream      = "TRACKER_PASSES"
	PassSubjectRoot = "tracker.pass"
	// PassSchema is the schema version of PassSummary and PassChunk.
	PassSchema = 1
	// PassChunkSize is the most issues one PassChunk carries.
	PassChunkSize = 5000
)

// subjectToken turns a free-form name (a state key) into one NATS subject
// token: kept when it is only letters, digits, '-' and '_', else hex-encoded
// behind an "x" so that distinct names never share a token.
func subjectToken(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "x" + hex.EncodeToString([]byte(s))
		}
	}
	if s == "" {
		return "x"
	}
	return s
}

// PassSummarySubject is where the summaries of an extractor's passes go
// (one extractor: one state key); the last message is the latest pass.
func PassSummarySubject(stateKey string) string {
	return PassSubjectRoot + "." + subjectToken(stateKey) + ".summary"
}

// PassChunkSubject is the subject of chunk n (0-based) of a pass's issues.
func PassChunkSubject(stateKey, passID string, n int) string {
	return fmt.Sprintf("%s.%s.issues.%s.%d", PassSubjectRoot, subjectToken(stateKey), subjectToken(passID), n)
}

// Outcome is what the extractor did with one issue it found.
type Outcome uint8

// Outcomes of an issue in a pass.
const (
	// OutcomePending: the issue was found but not finished (the pass was
	// interrupted).
	OutcomePending Outcome = iota
	// OutcomePublished: its snapshot was stored in the raw stream.
	OutcomePublished
	// OutcomeDuplicate: the same snapshot (same id, update time and
	// version) was already in the raw stream; JetStream kept the first.
	OutcomeDuplicate
	// OutcomeFailed: fetching or publishing failed (Reason says why).
	OutcomeFailed
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case OutcomePublished:
		return "published"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeFailed:
		return "failed"
	}
	return "pending"
}

// Stored reports whether the snapshot is in the raw stream.
func (o Outcome) Stored() bool { return o == OutcomePublished || o == OutcomeDuplicate }

// PassIssue is one issue of a pass, in search order.
type PassIssue struct {
	ID  string `msgpack:"id"`
	Key string `msgpack:"key"`
	// Version is the snapshot's SourceVersion: the ClickHouse _version the
	// issue must have at least once loaded.
	Version uint64    `msgpack:"version"`
	Updated time.Time `msgpack:"updated"`
	// Changes is the number of changed fields in its changelog: the rows
	// issues_changelog must hold for it when changelog export is on.
	Changes int     `msgpack:"changes"`
	Outcome Outcome `msgpack:"outcome"`
	// Reason says why a failed issue failed (a short class such as
	// "fetch", "publish" or "too_large", then ": " and the error).
	Reason string `msgpack:"reason,omitempty"`
}

// PassSummary describes one extraction pass. It is published after every
// chunk of the pass's issues, so a summary always has its chunks.
type PassSummary struct {
	PassID   string `msgpack:"pass_id"`
	StateKey string `msgpack:"state_key"`
	Query    string `msgpack:"query"`
	// Since is the lower bound of Updated the search asked for (zero when
	// none).
	Since      time.Time `msgpack:"since"`
	StartedAt  time.Time `msgpack:"started_at"`
	FinishedAt time.Time `msgpack:"finished_at"`
	// SearchTotals is X-Total-Count of every search attempt (-1: absent);
	// a restarted search has one per attempt.
	SearchTotals []int `msgpack:"search_totals"`
	// SearchError is set when the search could not see every issue.
	SearchError string `msgpack:"search_error,omitempty"`
	Found       int    `msgpack:"found"`
	Published   int    `msgpack:"published"`
	Duplicates  int    `msgpack:"duplicates"`
	Failed      int    `msgpack:"failed"`
	// Chunks is the number of PassChunk messages of the pass.
	Chunks int `msgpack:"chunks"`
}

// PassChunk is a run of a pass's issues, in search order.
type PassChunk struct {
	PassID string      `msgpack:"pass_id"`
	Index  int         `msgpack:"index"`
	Issues []PassIssue `msgpack:"issues"`
}
