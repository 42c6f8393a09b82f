// Package state keeps the extractor's watermark between runs.
//
// A Store holds one State per key; several extractors (say, one per queue)
// can share a store with different keys. Backends live in subpackages:
// jsonfile (a local JSON file, the default), s3state (the same JSON document
// as an S3 object) and redisstate (one Redis key per state key). Open builds
// one of them from a Config that mirrors the old tool's EXPORTER_STATE__*
// variables, and every backend passes the conformance suite in statetest.
//
// The old tool's state is read as is: its JSON file (and S3 object) maps a
// key such as "tracker_etl_default" to a local time string like
// "2024-03-05 14:07:33" written in the tracker's time zone with its
// EXPORTER_DATETIME_QUERY_FORMAT (Config.LegacyLocation and LegacyLayout;
// fixed ISO-like layouts are tried after that format), and its Redis
// backend stored that string under "tracker_exporter_default:<key>". Saving
// replaces the value of the key with a JSON object
// {"version":1,"watermark":"2024-03-05T11:07:33Z",...}; other keys are kept
// untouched. The old tool cannot read the new object back.
package state

import "github.com/tracker-exporter/tracker-exporter/pkg/state/internal/statecore"

// State is what an extractor keeps between runs under one key: the
// watermark, when it was saved, the issues to retry and the run that saved
// it. See the field comments for the meaning of each.
type State = statecore.State

// Store keeps one State per key; see the method comments for the contract
// every backend follows.
type Store = statecore.Store

// DefaultKey is the old tool's state key, "tracker_etl_default".
const DefaultKey = statecore.DefaultKey

// ErrCorrupt is wrapped by errors for state that exists but cannot be read
// (or, on Save, a stored document a backend will not overwrite). Match it
// with errors.Is; it is never returned for state that does not exist yet.
var ErrCorrupt = statecore.ErrCorrupt

// ErrConflict is wrapped by Save errors when concurrent writers kept a
// conditional write from succeeding. Match it with errors.Is; retrying later
// is safe.
var ErrConflict = statecore.ErrConflict
