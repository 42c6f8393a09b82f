package tracker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ID is an identifier that Tracker sends as a JSON string or number
// (strings inside references, numbers in full objects). It decodes both
// and keeps the decimal or textual form.
type ID string

// UnmarshalJSON accepts a string, a number or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*id = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		*id = ID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id %q: %w", truncate(b), err)
		}
		*id = ID(n.String())
	}
	return nil
}

// String returns the id as text.
func (id ID) String() string { return string(id) }

// Time is a Tracker datetime ("2017-06-11T05:16:01.339+0000"). It decodes
// leniently: with or without milliseconds, "Z", "+00:00" or "+0000"
// offsets, and a bare date. The zero Time means absent or null.
type Time struct{ time.Time }

var timeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05-0700",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// ParseTime parses a Tracker datetime in any of the accepted layouts and
// returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised datetime %q", truncate([]byte(s)))
}

// UnmarshalJSON accepts a datetime string, an empty string or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("datetime: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON writes the Tracker layout.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000-0700") + `"`), nil
}

// Ref is an embedded reference to another object: status, type, queue,
// user, issue, sprint, component, field. Display may be localized; when
// Tracker sends display as an object keyed by language the first value is
// kept.
type Ref struct {
	Self        string `json:"self,omitempty"`
	ID          ID     `json:"id,omitempty"`
	Key         string `json:"key,omitempty"`
	Display     string `json:"display,omitempty"`
	Name        string `json:"name,omitempty"`
	CloudUID    string `json:"cloudUid,omitempty"`
	PassportUID ID     `json:"passportUid,omitempty"`
}

// UnmarshalJSON decodes a reference, tolerating a localized display object
// and a bare string or number (treated as the id).
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*r = Ref{}
		return nil
	}
	if b[0] != '{' {
		var id ID
		if err := id.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		*r = Ref{ID: id}
		return nil
	}
	var raw struct {
		Self        string          `json:"self"`
		ID          ID              `json:"id"`
		Key         string          `json:"key"`
		Display     json.RawMessage `json:"display"`
		Name        json.RawMessage `json:"name"`
		CloudUID    ID              `json:"cloudUid"`
		PassportUID ID              `json:"passportUid"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	*r = Ref{Self: raw.Self, ID: raw.ID, Key: raw.Key, CloudUID: string(raw.CloudUID), PassportUID: raw.PassportUID}
	r.Display = Localized(raw.Display)
	r.Name = Localized(raw.Name)
	return nil
}

// Label is the most human form of the reference: display, name, key, id.
func (r *Ref) Label() string {
	switch {
	case r == nil:
		return ""
	case r.Display != "":
		return r.Display
	case r.Name != "":
		return r.Name
	case r.Key != "":
		return r.Key
	}
	return string(r.ID)
}

// Localized decodes a string or a {"en": "...", "ru": "..."} object: the
// string, or the en (else ru, else any) value; "" for null or anything else.
func Localized(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	var m map[string]string
	if json.Unmarshal(b, &m) == nil {
		for _, lang := range []string{"en", "ru"} {
			if v, ok := m[lang]; ok {
				return v
			}
		}
		for _, v := range m {
			return v
		}
	}
	return ""
}

// Project is the issue's project: a plain reference in v2, an object with
// a primary reference in v3. Either decodes into Primary.
type Project struct {
	Primary Ref `json:"primary"`
}

// UnmarshalJSON accepts both the v2 and the v3 shape.
func (p *Project) UnmarshalJSON(b []byte) error {
	var probe struct {
		Primary *Ref `json:"primary"`
	}
	if err := json.Unmarshal(b, &probe); err == nil && probe.Primary != nil {
		p.Primary = *probe.Primary
		return nil
	}
	return p.Primary.UnmarshalJSON(b)
}

// Issue is an issue as returned by search or get. Known fields are typed;
// Raw keeps the object exactly as received and Extra the fields this type
// does not model (custom and local fields such as "<hex>--team").
type Issue struct {
	Self            string   `json:"self"`
	ID              ID       `json:"id"`
	Key             string   `json:"key"`
	Version         int64    `json:"version"`
	Summary         string   `json:"summary"`
	Description     string   `json:"description"`
	Type            *Ref     `json:"type"`
	Priority        *Ref     `json:"priority"`
	Status          *Ref     `json:"status"`
	StatusType      *Ref     `json:"statusType"`
	StatusStartTime Time     `json:"statusStartTime"`
	PreviousStatus  *Ref     `json:"previousStatus"`
	Resolution      *Ref     `json:"resolution"`
	Queue           *Ref     `json:"queue"`
	PreviousQueue   *Ref     `json:"previousQueue"`
	Assignee        *Ref     `json:"assignee"`
	CreatedBy       *Ref     `json:"createdBy"`
	UpdatedBy       *Ref     `json:"updatedBy"`
	ResolvedBy      *Ref     `json:"resolvedBy"`
	QAEngineer      *Ref     `json:"qaEngineer"`
	Followers       []Ref    `json:"followers"`
	CreatedAt       Time     `json:"createdAt"`
	UpdatedAt       Time     `json:"updatedAt"`
	ResolvedAt      Time     `json:"resolvedAt"`
	Deadline        string   `json:"deadline"`
	Start           string   `json:"start"`
	End             string   `json:"end"`
	StoryPoints     *float64 `json:"storyPoints"`
	Tags            []string `json:"tags"`
	Components      []Ref    `json:"components"`
	Sprint          []Ref    `json:"sprint"`
	Project         *Project `json:"project"`
	Parent          *Ref     `json:"parent"`
	Epic            *Ref     `json:"epic"`
	Aliases         []string `json:"aliases"`

	Raw   json.RawMessage            `json:"-"`
	Extra map[string]json.RawMessage `json:"-"`
}

var issueKnown = map[string]bool{}

func init() {
	for _, f := range []string{"self", "id", "key", "version", "summary", "description", "type", "priority",
		"status", "statusType", "statusStartTime", "previousStatus", "resolution", "queue", "previousQueue",
		"assignee", "createdBy", "updatedBy", "resolvedBy", "qaEngineer", "followers", "createdAt", "updatedAt",
		"resolvedAt", "deadline", "start", "end", "storyPoints", "tags", "components", "sprint", "project",
		"parent", "epic", "aliases"} {
		issueKnown[f] = true
	}
}

// UnmarshalJSON decodes an issue, keeping Raw and the unmodelled fields.
// A known field with an unexpected shape is an error naming the field.
func (is *Issue) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	type plain Issue
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("issue %s: %w", keyOf(fields), err)
	}
	*is = Issue(p)
	is.Raw = append(json.RawMessage(nil), b...)
	for k, v := range fields {
		if !issueKnown[k] {
			if is.Extra == nil {
				is.Extra = make(map[string]json.RawMessage)
			}
			is.Extra[k] = v
		}
	}
	return nil
}

func keyOf(fields map[string]json.RawMessage) string {
	var k string
	_ = json.Unmarshal(fields["key"], &k)
	if k == "" {
		return "(no key)"
	}
	return k
}

// UserRefs returns every user reference of the issue (for directory
// lookups), without duplicates, in a stable order.
func (is *Issue) UserRefs() []*Ref {
	var out []*Ref
	seen := map[ID]bool{}
	add := func(r *Ref) {
		if r != nil && r.ID != "" && !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	for _, r := range []*Ref{is.Assignee, is.CreatedBy, is.UpdatedBy, is.ResolvedBy, is.QAEngineer} {
		add(r)
	}
	for i := range is.Followers {
		add(&is.Followers[i])
	}
	return out
}

// ChangelogEntry is one entry of an issue's history.
type ChangelogEntry struct {
	ID        ID            `json:"id"`
	Self      string        `json:"self"`
	Issue     *Ref          `json:"issue"`
	UpdatedAt Time          `json:"updatedAt"`
	UpdatedBy *Ref          `json:"updatedBy"`
	Type      string        `json:"type"`
	Transport string        `json:"transport"`
	Fields    []FieldChange `json:"fields"`
	// Comments, Worklog and Links are what the entry says of the issue's
	// comments ({"added": [...], ...}), worklog records and links, when
	// it says anything: a transition may carry a comment.
	Comments json.RawMessage `json:"comments"`
	Worklog  json.RawMessage `json:"worklog"`
	Links    json.RawMessage `json:"links"`

	Raw json.RawMessage `json:"-"`
}

// FieldChange is one changed field in a changelog entry. From and To are
// kept as received: null, a string, a number, a reference, or an array.
type FieldChange struct {
	Field Ref             `json:"field"`
	From  json.RawMessage `json:"from"`
	To    json.RawMessage `json:"to"`
}

// UnmarshalJSON decodes an entry and keeps Raw.
func (e *ChangelogEntry) UnmarshalJSON(b []byte) error {
	type plain ChangelogEntry
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("changelog entry: %w", err)
	}
	*e = ChangelogEntry(p)
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Status is an entry of the status directory.
type Status struct {
	Self    string `json:"self"`
	ID      ID     `json:"id"`
	Key     string `json:"key"`
	Name    string `json:"-"`
	Type    string `json:"type"`
	Order   int64  `json:"order"`
	Version int64  `json:"version"`
}

// UnmarshalJSON decodes a status with a possibly localized name.
func (s *Status) UnmarshalJSON(b []byte) error {
	type plain Status
	var p struct {
		plain
		Name json.RawMessage `json:"name"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	*s = Status(p.plain)
	s.Name = Localized(p.Name)
	return nil
}

// User is an entry of the users directory.
type User struct {
	Self        string `json:"self"`
	UID         ID     `json:"uid"`
	Login       string `json:"login"`
	TrackerUID  ID     `json:"trackerUid"`
	PassportUID ID     `json:"passportUid"`
	CloudUID    ID     `json:"cloudUid"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Display     string `json:"display"`
	Email       string `json:"email"`
	Dismissed   bool   `json:"dismissed"`
}

// IDs returns every identifier the user may be referred to by.
func (u *User) IDs() []string {
	var out []string
	for _, id := range []ID{u.UID, u.TrackerUID, u.PassportUID, u.CloudUID} {
		if id != "" && id != "0" {
			out = append(out, string(id))
		}
	}
	if u.Login != "" {
		out = append(out, u.Login)
	}
	return out
}

func truncate(b []byte) string {
	const n = 64
	s := string(b)
	if len(s) > n {
		return s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
