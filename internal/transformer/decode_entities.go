package transformer

import (
	"encoding/json"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// Decoders of the optional parts of a snapshot (comments, worklogs,
// links), as decode.go does for changelog entries: each keeps the fields
// the rows use, and the leanX function makes the same of what
// encoding/json decodes when the cursor fails.

// decodeEach decodes every item into T, counting those that do not decode
// (or that fail ok) as anomalies.
func decodeEach[T any](items [][]byte, res *Result, o *object[T], lean func(*T) T, ok func(*T) bool) []T {
	out := make([]T, 0, len(items))
	for _, raw := range items {
		v, decoded := o.decode(raw)
		if !decoded {
			var full T
			if json.Unmarshal(raw, &full) != nil {
				res.Anomalies++
				continue
			}
			v = lean(&full)
		}
		if !ok(&v) {
			res.Anomalies++
			continue
		}
		out = append(out, v)
	}
	return out
}

var commentObject = newObject(nil,
	idMember("id", func(c *tracker.Comment) *tracker.ID { return &c.ID }),
	strMember("longId", func(c *tracker.Comment) *string { return &c.LongID }),
	strMember("text", func(c *tracker.Comment) *string { return &c.Text }),
	refMember("createdBy", func(c *tracker.Comment) **tracker.Ref { return &c.CreatedBy }),
	check[tracker.Comment]("updatedBy", (*cursor).checkRef),
	timeMember("createdAt", func(c *tracker.Comment) *tracker.Time { return &c.CreatedAt }),
	timeMember("updatedAt", func(c *tracker.Comment) *tracker.Time { return &c.UpdatedAt }),
	check[tracker.Comment]("version", (*cursor).checkInt64),
	strMember("type", func(c *tracker.Comment) *string { return &c.Type }),
	strMember("transport", func(c *tracker.Comment) *string { return &c.Transport }),
)

// leanComment drops what commentObject does not read.
func leanComment(c *tracker.Comment) tracker.Comment {
	out := *c
	out.CreatedBy, out.UpdatedBy, out.Version = leanPtr(c.CreatedBy), nil, 0
	return out
}

var worklogObject = newObject(nil,
	idMember("id", func(w *tracker.Worklog) *tracker.ID { return &w.ID }),
	check[tracker.Worklog]("version", (*cursor).checkInt64),
	strMember("comment", func(w *tracker.Worklog) *string { return &w.Comment }),
	refMember("createdBy", func(w *tracker.Worklog) **tracker.Ref { return &w.CreatedBy }),
	check[tracker.Worklog]("updatedBy", (*cursor).checkRef),
	timeMember("createdAt", func(w *tracker.Worklog) *tracker.Time { return &w.CreatedAt }),
	timeMember("updatedAt", func(w *tracker.Worklog) *tracker.Time { return &w.UpdatedAt }),
	timeMember("start", func(w *tracker.Worklog) *tracker.Time { return &w.Start }),
	strMember("duration", func(w *tracker.Worklog) *string { return &w.Duration }),
)

// leanWorklog drops what worklogObject does not read.
func leanWorklog(w *tracker.Worklog) tracker.Worklog {
	out := *w
	out.CreatedBy, out.UpdatedBy, out.Version = leanPtr(w.CreatedBy), nil, 0
	return out
}

var linkTypeObject = newObject(nil,
	idMember("id", func(t *tracker.LinkType) *tracker.ID { return &t.ID }),
	strMember("inward", func(t *tracker.LinkType) *string { return &t.Inward }),
	strMember("outward", func(t *tracker.LinkType) *string { return &t.Outward }),
)

var linkObject = newObject(nil,
	idMember("id", func(l *tracker.Link) *tracker.ID { return &l.ID }),
	member[tracker.Link]{"type", func(c *cursor, l *tracker.Link) {
		// A struct: null leaves it as it is.
		if c.peek() == 'n' {
			c.literal("null")
			return
		}
		linkTypeObject.readInto(c, &l.Type)
	}},
	strMember("direction", func(l *tracker.Link) *string { return &l.Direction }),
	refMember("object", func(l *tracker.Link) **tracker.Ref { return &l.Object }),
	refMember("createdBy", func(l *tracker.Link) **tracker.Ref { return &l.CreatedBy }),
	check[tracker.Link]("updatedBy", (*cursor).checkRef),
	timeMember("createdAt", func(l *tracker.Link) *tracker.Time { return &l.CreatedAt }),
	timeMember("updatedAt", func(l *tracker.Link) *tracker.Time { return &l.UpdatedAt }),
	check[tracker.Link]("status", (*cursor).checkRef),
)

// leanLink drops what linkObject does not read.
func leanLink(l *tracker.Link) tracker.Link {
	out := *l
	out.Object, out.CreatedBy, out.UpdatedBy, out.Status = leanPtr(l.Object), leanPtr(l.CreatedBy), nil, nil
	return out
}

var commentEventsObject = newObject(nil,
	refsMember("added", func(ev *commentEvents) *[]tracker.Ref { return &ev.Added }),
	refsMember("removed", func(ev *commentEvents) *[]tracker.Ref { return &ev.Removed }),
)

// decodeCommentEvents decodes the comments part of a changelog entry; ok
// is false when it does not decode.
func decodeCommentEvents(b []byte) (commentEvents, bool) {
	if ev, ok := commentEventsObject.decode(b); ok {
		return ev, true
	}
	var ev commentEvents
	if json.Unmarshal(b, &ev) != nil {
		return commentEvents{}, false
	}
	return commentEvents{Added: leanRefs(ev.Added), Removed: leanRefs(ev.Removed)}, true
}
