package transformer

import (
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// FuzzTransform feeds arbitrary issue and changelog JSON to Transform: it
// must return rows or an error, never panic, and never produce negative
// durations.
func FuzzTransform(f *testing.F) {
	f.Add([]byte(`{"id":"a","key":"K-1","createdAt":"2024-03-04T07:00:00.000+0000","updatedAt":"2024-03-05T07:00:00.000+0000","status":{"key":"open","display":"Open"}}`),
		[]byte(`{"id":"1","type":"IssueWorkflow","updatedAt":"2024-03-04T09:00:00.000+0000","fields":[{"field":{"id":"status"},"from":{"key":"open"},"to":{"key":"inProgress"}},{"field":{"id":"statusStartTime"},"from":null,"to":"2024-03-04T09:00:00.000+0000"}]}`))
	f.Add([]byte(`{"id":7,"key":null,"status":"x","tags":[1,2]}`), []byte(`{"fields":[{"field":"status","from":[],"to":{"self":"/users/1","id":1}}]}`))
	f.Add([]byte(`[]`), []byte(`null`))
	r := &Rules{ChangelogEnabled: true, Generation: "fuzz"}
	f.Fuzz(func(t *testing.T, issue, entry []byte) {
		snap := &wire.IssueSnapshot{IssueID: "x", Issue: issue, Changelog: [][]byte{entry, entry},
			Users: map[string]wire.User{"1": {Email: "a@b"}}, Statuses: map[string]wire.Status{"open": {Key: "open", Type: "new"}}}
		res, err := Transform(snap, r, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return
		}
		for _, v := range res.Rows.Intervals {
			if v.Duration < 0 || v.BusdaysDuration < 0 {
				t.Fatalf("negative duration %+v", v)
			}
		}
		for _, m := range res.Rows.Metrics {
			if m.Duration < 0 || m.BusdaysDuration < 0 {
				t.Fatalf("negative duration %+v", m)
			}
		}
	})
}
