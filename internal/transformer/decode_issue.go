package transformer

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// object reads a JSON object into a T member by member, as encoding/json
// decodes it into the pkg/tracker type T: each known member with its
// reader (which may only check a member the rows do not use), any other
// with other (nil: skipped).
type object[T any] struct {
	members *memberSet
	read    []func(*cursor, *T)
	other   func(c *cursor, key []byte, v *T)
}

// member is one member of an object: its name and how to read it.
type member[T any] struct {
	name string
	read func(*cursor, *T)
}

func newObject[T any](other func(*cursor, []byte, *T), members ...member[T]) *object[T] {
	o := &object[T]{other: other, read: make([]func(*cursor, *T), len(members))}
	names := make([]string, len(members))
	for i, m := range members {
		names[i], o.read[i] = m.name, m.read
	}
	o.members = newMemberSet(names...)
	return o
}

// readInto reads the object at the cursor into v.
func (o *object[T]) readInto(c *cursor, v *T) {
	c.object()
	var seen uint64
	for first := true; ; first = false {
		key, more := c.member(first)
		switch k := c.known(key, o.members, &seen); {
		case !more:
			return
		case k >= 0:
			o.read[k](c, v)
		case o.other != nil:
			o.other(c, key, v)
		default:
			c.skip()
		}
	}
}

// decode reads b, which must be one object; ok is false when the cursor
// failed.
func (o *object[T]) decode(b []byte) (v T, ok bool) {
	c := cursor{b: b}
	o.readInto(&c, &v)
	c.end()
	return v, !c.bad
}

// Member readers: each reads a member as encoding/json reads it into the
// field's type (a reference without what lean drops).

func strMember[T any](name string, f func(*T) *string) member[T] {
	return member[T]{name, func(c *cursor, v *T) { *f(v) = c.optStr() }}
}

func idMember[T any](name string, f func(*T) *tracker.ID) member[T] {
	return member[T]{name, func(c *cursor, v *T) { *f(v) = tracker.ID(c.id()) }}
}

func refMember[T any](name string, f func(*T) **tracker.Ref) member[T] {
	return member[T]{name, func(c *cursor, v *T) { *f(v) = c.refPtr() }}
}

func timeMember[T any](name string, f func(*T) *tracker.Time) member[T] {
	return member[T]{name, func(c *cursor, v *T) { f(v).Time = c.time() }}
}

func refsMember[T any](name string, f func(*T) *[]tracker.Ref) member[T] {
	return member[T]{name, func(c *cursor, v *T) { *f(v) = c.refs() }}
}

func stringsMember[T any](name string, f func(*T) *[]string) member[T] {
	return member[T]{name, func(c *cursor, v *T) { *f(v) = c.strings() }}
}

// check is a member only checked, with check one of the cursor's check
// methods.
func check[T any](name string, check func(*cursor)) member[T] {
	return member[T]{name, func(c *cursor, _ *T) { check(c) }}
}

func (c *cursor) checkRef() { c.ref() }

// decodeIssue decodes the issue object of a snapshot as tracker.Issue
// does, keeping the fields the rows use (see leanIssue); it returns
// tracker.Issue's error when the issue does not decode.
func decodeIssue(b []byte) (tracker.Issue, error) {
	if is, ok := issueObject.decode(b); ok {
		return is, nil
	}
	var is tracker.Issue
	if err := json.Unmarshal(b, &is); err != nil {
		return tracker.Issue{}, err
	}
	return leanIssue(&is), nil
}

// timeExtras are the unmodelled issue fields the rows read (timeSpent).
var timeExtras = []string{"spent", "estimation", "originalEstimation"}

// leanIssue keeps the fields of an issue that the rows use: the others
// (self, id, version, description, previousStatus,
// previousQueue, updatedBy, resolvedBy, followers, Raw) are dropped, the
// references lose what lean drops, and Extra keeps the time tracking
// fields only.
func leanIssue(is *tracker.Issue) tracker.Issue {
	out := tracker.Issue{
		Key: is.Key, Summary: is.Summary,
		Type: leanPtr(is.Type), Priority: leanPtr(is.Priority), Status: leanPtr(is.Status), StatusType: leanPtr(is.StatusType),
		Resolution: leanPtr(is.Resolution), Queue: leanPtr(is.Queue), Assignee: leanPtr(is.Assignee),
		CreatedBy: leanPtr(is.CreatedBy), QAEngineer: leanPtr(is.QAEngineer), Parent: leanPtr(is.Parent), Epic: leanPtr(is.Epic),
		StatusStartTime: is.StatusStartTime, CreatedAt: is.CreatedAt, UpdatedAt: is.UpdatedAt, ResolvedAt: is.ResolvedAt,
		Deadline: is.Deadline, Start: is.Start, End: is.End, StoryPoints: is.StoryPoints,
		Tags: is.Tags, Aliases: is.Aliases, Components: leanRefs(is.Components), Sprint: leanRefs(is.Sprint),
	}
	if is.Project != nil {
		out.Project = &tracker.Project{Primary: lean(is.Project.Primary)}
	}
	for _, k := range timeExtras {
		if v, ok := is.Extra[k]; ok {
			if out.Extra == nil {
				out.Extra = map[string]json.RawMessage{}
			}
			out.Extra[k] = v
		}
	}
	return out
}

func leanPtr(r *tracker.Ref) *tracker.Ref {
	if r == nil {
		return nil
	}
	l := lean(*r)
	return &l
}

func leanRefs(rs []tracker.Ref) []tracker.Ref {
	if rs == nil {
		return nil
	}
	out := make([]tracker.Ref, len(rs))
	for i := range rs {
		out[i] = lean(rs[i])
	}
	return out
}

// issueObject reads tracker.Issue's members.
var issueObject = newObject(issueExtra,
	check[tracker.Issue]("self", (*cursor).checkString),
	check[tracker.Issue]("id", (*cursor).checkID),
	strMember("key", func(is *tracker.Issue) *string { return &is.Key }),
	check[tracker.Issue]("version", (*cursor).checkInt64),
	strMember("summary", func(is *tracker.Issue) *string { return &is.Summary }),
	check[tracker.Issue]("description", (*cursor).checkString),
	refMember("type", func(is *tracker.Issue) **tracker.Ref { return &is.Type }),
	refMember("priority", func(is *tracker.Issue) **tracker.Ref { return &is.Priority }),
	refMember("status", func(is *tracker.Issue) **tracker.Ref { return &is.Status }),
	refMember("statusType", func(is *tracker.Issue) **tracker.Ref { return &is.StatusType }),
	timeMember("statusStartTime", func(is *tracker.Issue) *tracker.Time { return &is.StatusStartTime }),
	check[tracker.Issue]("previousStatus", (*cursor).checkRef),
	refMember("resolution", func(is *tracker.Issue) **tracker.Ref { return &is.Resolution }),
	refMember("queue", func(is *tracker.Issue) **tracker.Ref { return &is.Queue }),
	check[tracker.Issue]("previousQueue", (*cursor).checkRef),
	refMember("assignee", func(is *tracker.Issue) **tracker.Ref { return &is.Assignee }),
	refMember("createdBy", func(is *tracker.Issue) **tracker.Ref { return &is.CreatedBy }),
	check[tracker.Issue]("updatedBy", (*cursor).checkRef),
	check[tracker.Issue]("resolvedBy", (*cursor).checkRef),
	refMember("qaEngineer", func(is *tracker.Issue) **tracker.Ref { return &is.QAEngineer }),
	check[tracker.Issue]("followers", (*cursor).checkRefs),
	timeMember("createdAt", func(is *tracker.Issue) *tracker.Time { return &is.CreatedAt }),
	timeMember("updatedAt", func(is *tracker.Issue) *tracker.Time { return &is.UpdatedAt }),
	timeMember("resolvedAt", func(is *tracker.Issue) *tracker.Time { return &is.ResolvedAt }),
	strMember("deadline", func(is *tracker.Issue) *string { return &is.Deadline }),
	strMember("start", func(is *tracker.Issue) *string { return &is.Start }),
	strMember("end", func(is *tracker.Issue) *string { return &is.End }),
	member[tracker.Issue]{"storyPoints", func(c *cursor, is *tracker.Issue) { is.StoryPoints = c.float64Ptr() }},
	stringsMember("tags", func(is *tracker.Issue) *[]string { return &is.Tags }),
	refsMember("components", func(is *tracker.Issue) *[]tracker.Ref { return &is.Components }),
	refsMember("sprint", func(is *tracker.Issue) *[]tracker.Ref { return &is.Sprint }),
	member[tracker.Issue]{"project", func(c *cursor, is *tracker.Issue) { is.Project = c.project() }},
	refMember("parent", func(is *tracker.Issue) **tracker.Ref { return &is.Parent }),
	refMember("epic", func(is *tracker.Issue) **tracker.Ref { return &is.Epic }),
	stringsMember("aliases", func(is *tracker.Issue) *[]string { return &is.Aliases }),
)

// issueExtra keeps the time tracking fields among the members
// tracker.Issue does not model (its Extra).
func issueExtra(c *cursor, key []byte, is *tracker.Issue) {
	v := c.raw()
	for _, x := range timeExtras {
		if string(key) == x {
			if is.Extra == nil {
				is.Extra = map[string]json.RawMessage{}
			}
			is.Extra[x] = v
		}
	}
}

// refPtr reads a *tracker.Ref: nil for null.
func (c *cursor) refPtr() *tracker.Ref {
	if c.peek() == 'n' {
		c.literal("null")
		return nil
	}
	r := c.ref()
	l := r.lean()
	return &l
}

// refs reads a []tracker.Ref: nil for null.
func (c *cursor) refs() []tracker.Ref {
	if c.peek() == 'n' {
		c.literal("null")
		return nil
	}
	out := []tracker.Ref{}
	c.array()
	for first := true; c.elem(first); first = false {
		r := c.ref()
		out = append(out, r.lean())
	}
	return out
}

// checkRefs checks a []tracker.Ref.
func (c *cursor) checkRefs() {
	if c.peek() == 'n' {
		c.literal("null")
		return
	}
	c.array()
	for first := true; c.elem(first); first = false {
		c.ref()
	}
}

// strings reads a []string: nil for null, "" for a null item.
func (c *cursor) strings() []string {
	if c.peek() == 'n' {
		c.literal("null")
		return nil
	}
	out := []string{}
	c.array()
	for first := true; c.elem(first); first = false {
		out = append(out, c.optStr())
	}
	return out
}

// checkInt64 checks an int64 (or null) as encoding/json reads one.
func (c *cursor) checkInt64() {
	if c.peek() == 'n' {
		c.literal("null")
		return
	}
	if n := c.number(); !c.bad {
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			c.fail()
		}
	}
}

// float64Ptr reads a *float64 as encoding/json does: nil for null.
func (c *cursor) float64Ptr() *float64 {
	if c.peek() == 'n' {
		c.literal("null")
		return nil
	}
	n := c.number()
	if c.bad {
		return nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		c.fail()
		return nil
	}
	return &f
}

// project reads a *tracker.Project: a v3 object whose primary reference
// is not null, or a v2 reference. Anything else (a null primary, which
// tracker.Project reads as a v2 reference) fails the cursor.
func (c *cursor) project() *tracker.Project {
	switch c.peek() {
	case 'n':
		c.literal("null")
		return nil
	case '{':
	default:
		r := c.ref()
		return &tracker.Project{Primary: r.lean()}
	}
	start := c.i
	c.object()
	var primary []byte
	for first := true; ; first = false {
		key, more := c.member(first)
		if !more {
			break
		}
		isPrimary := string(key) == "primary"
		if isPrimary && primary != nil || !isPrimary && bytes.EqualFold(key, []byte("primary")) {
			c.fail()
		}
		if v := c.raw(); isPrimary {
			primary = v
		}
	}
	whole := c.b[start:c.i]
	switch {
	case c.bad:
		return nil
	case primary == nil:
		primary = whole
	case primary[0] == 'n':
		c.fail()
		return nil
	}
	sub := cursor{b: primary}
	r := sub.ref()
	sub.end()
	if sub.bad {
		c.fail()
	}
	return &tracker.Project{Primary: r.lean()}
}
