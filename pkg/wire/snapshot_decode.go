package wire

// This file decodes an IssueSnapshot in one pass over the body, without
// reflection, and with the JSON parts (issue, changelog, comments, ...)
// left in place: they are slices of the body. It reads what Marshal
// writes (the forms vmihailenco/msgpack's Encoder chooses) and fails on
// anything else, such as a field it does not know, a field given twice or
// an unusual but valid form; Unmarshal then decodes the same body with
// the reflective decoder. fastcodec_test.go fuzzes both paths against
// each other: whenever the fast path succeeds, its result is the other's.

// decodeSnapshot decodes b, all of it, into s (which must be zero); ok is
// false when the fast path cannot (s is then undefined).
func decodeSnapshot(b []byte, s *IssueSnapshot) bool {
	r := reader{b: b}
	object(&r, s, snapshotFields)
	return !r.bad && r.i == len(b)
}

var snapshotFields = []field[IssueSnapshot]{
	{"issue_id", func(r *reader, s *IssueSnapshot) { s.IssueID = r.str() }},
	{"issue_key", func(r *reader, s *IssueSnapshot) { s.IssueKey = r.str() }},
	{"updated_at", func(r *reader, s *IssueSnapshot) { s.UpdatedAt = r.time() }},
	{"version", func(r *reader, s *IssueSnapshot) { s.Version = r.int64() }},
	{"fetched_at", func(r *reader, s *IssueSnapshot) { s.FetchedAt = r.time() }},
	{"issue", func(r *reader, s *IssueSnapshot) { s.Issue = r.raw() }},
	{"changelog", func(r *reader, s *IssueSnapshot) { s.Changelog = r.raws() }},
	{"users", func(r *reader, s *IssueSnapshot) {
		done := r.shared()
		s.Users = directory(r, userFields)
		done()
	}},
	{"statuses", func(r *reader, s *IssueSnapshot) {
		done := r.shared()
		s.Statuses = directory(r, statusFields)
		done()
	}},
	{"comments", func(r *reader, s *IssueSnapshot) { s.Comments = r.raws() }},
	{"worklogs", func(r *reader, s *IssueSnapshot) { s.Worklogs = r.raws() }},
	{"links", func(r *reader, s *IssueSnapshot) { s.Links = r.raws() }},
	{"parts", func(r *reader, s *IssueSnapshot) { s.Parts = Part(r.uint64()) }},
	{"deleted", func(r *reader, s *IssueSnapshot) { s.Deleted = r.bool() }},
	{"deleted_at", func(r *reader, s *IssueSnapshot) { s.DeletedAt = r.time() }},
}

// directory reads a map of structs keyed by strings (the users or the
// statuses directory).
func directory[T any](r *reader, fields []field[T]) map[string]T {
	n := r.mapLen()
	if !r.fits(n) {
		return nil
	}
	m := make(map[string]T, n)
	for range n {
		k := r.str()
		var v T
		if object(r, &v, fields); r.bad {
			return nil
		}
		m[k] = v
	}
	return m
}

var userFields = []field[User]{
	{"login", func(r *reader, u *User) { u.Login = r.str() }},
	{"email", func(r *reader, u *User) { u.Email = r.str() }},
	{"display", func(r *reader, u *User) { u.Display = r.str() }},
	{"dismissed", func(r *reader, u *User) { u.Dismissed = r.bool() }},
}

var statusFields = []field[Status]{
	{"key", func(r *reader, s *Status) { s.Key = r.str() }},
	{"name", func(r *reader, s *Status) { s.Name = r.str() }},
	{"type", func(r *reader, s *Status) { s.Type = r.str() }},
}
