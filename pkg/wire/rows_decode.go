package wire

// This file decodes IssueRows, the loader's every message, in one pass
// over the body and without reflection. It reads what appendIssueRows
// writes, which is what msgpack.Marshal wrote before it (the rows of an
// older transformer), plus the other integer widths, float32 and nil where
// the reflective decoder takes them; it fails on anything else (a field it
// does not know or given twice, a struct encoded as an array, a custom
// value of another type), and Unmarshal then decodes the same body with
// the reflective decoder. rows_decode_test.go fuzzes both paths against
// each other: whenever the fast path succeeds, its result is the other's.

// decodeRows decodes b, all of it, into v (which must be zero); ok is
// false when the fast path cannot (v is then undefined). The strings are
// substrings of one copy of b, but for IssueID.
func decodeRows(b []byte, v *IssueRows) bool { return decodeRowsText(b, string(b), v) }

// decodeRowsText is decodeRows with text, b as a string, given.
func decodeRowsText(b []byte, text string, v *IssueRows) bool {
	r := reader{b: b, text: text}
	object(&r, v, rowsFields)
	return !r.bad && r.i == len(b)
}

var rowsFields = []field[IssueRows]{
	// An insert remembers the issue ids it holds (clickhouse.Insert) after
	// their rows are sent: the id is a copy, which keeps no body alive.
	{"issue_id", func(r *reader, v *IssueRows) { v.IssueID = r.ownStr() }},
	{"issue_key", func(r *reader, v *IssueRows) { v.IssueKey = r.str() }},
	{"source_version", func(r *reader, v *IssueRows) { v.SourceVersion = r.uint64() }},
	{"transformed_at", func(r *reader, v *IssueRows) { v.TransformedAt = r.time() }},
	{"generation", func(r *reader, v *IssueRows) { v.Generation = r.str() }},
	{"issue", func(r *reader, v *IssueRows) { object(r, &v.Issue, issueFields) }},
	{"metrics", func(r *reader, v *IssueRows) { v.Metrics = objects(r, metricRowFields) }},
	{"intervals", func(r *reader, v *IssueRows) { v.Intervals = objects(r, intervalRowFields) }},
	{"changelog", func(r *reader, v *IssueRows) { v.Changelog = objects(r, changelogRowFields) }},
	{"statuses", func(r *reader, v *IssueRows) { v.Statuses = objects(r, statusFields) }},
	{"comments", func(r *reader, v *IssueRows) { v.Comments = objects(r, commentRowFields) }},
	{"worklogs", func(r *reader, v *IssueRows) { v.Worklogs = objects(r, worklogRowFields) }},
	{"links", func(r *reader, v *IssueRows) { v.Links = objects(r, linkRowFields) }},
	{"sprints", func(r *reader, v *IssueRows) { v.Sprints = objects(r, issueSprintRowFields) }},
	{"parts", func(r *reader, v *IssueRows) { v.Parts = Part(r.uint64()) }},
}

var issueFields = []field[IssueRow]{
	{"issue_id", func(r *reader, v *IssueRow) { v.IssueID = r.str() }},
	{"issue_key", func(r *reader, v *IssueRow) { v.IssueKey = r.str() }},
	{"queue", func(r *reader, v *IssueRow) { v.Queue = r.str() }},
	{"title", func(r *reader, v *IssueRow) { v.Title = r.str() }},
	{"issue_type", func(r *reader, v *IssueRow) { v.IssueType = r.str() }},
	{"priority", func(r *reader, v *IssueRow) { v.Priority = r.str() }},
	{"status", func(r *reader, v *IssueRow) { v.Status = r.str() }},
	{"status_key", func(r *reader, v *IssueRow) { v.StatusKey = r.str() }},
	{"status_type", func(r *reader, v *IssueRow) { v.StatusType = r.str() }},
	{"resolution", func(r *reader, v *IssueRow) { v.Resolution = r.str() }},
	{"assignee", func(r *reader, v *IssueRow) { v.Assignee = r.str() }},
	{"author", func(r *reader, v *IssueRow) { v.Author = r.str() }},
	{"qa_engineer", func(r *reader, v *IssueRow) { v.QAEngineer = r.str() }},
	{"tags", func(r *reader, v *IssueRow) { v.Tags = r.strs() }},
	{"components", func(r *reader, v *IssueRow) { v.Components = r.strs() }},
	{"project", func(r *reader, v *IssueRow) { v.Project = r.str() }},
	{"created_at", func(r *reader, v *IssueRow) { v.CreatedAt = r.time() }},
	{"updated_at", func(r *reader, v *IssueRow) { v.UpdatedAt = r.time() }},
	{"deadline", func(r *reader, v *IssueRow) { v.Deadline = r.time() }},
	{"closed_at", func(r *reader, v *IssueRow) { v.ClosedAt = r.time() }},
	{"resolved_at", func(r *reader, v *IssueRow) { v.ResolvedAt = r.time() }},
	{"start_date", func(r *reader, v *IssueRow) { v.StartDate = r.time() }},
	{"end_date", func(r *reader, v *IssueRow) { v.EndDate = r.time() }},
	{"is_subtask", func(r *reader, v *IssueRow) { v.IsSubtask = r.bool() }},
	{"is_closed", func(r *reader, v *IssueRow) { v.IsClosed = r.bool() }},
	{"is_resolved", func(r *reader, v *IssueRow) { v.IsResolved = r.bool() }},
	{"story_points", func(r *reader, v *IssueRow) { v.StoryPoints = r.float64() }},
	{"sprints", func(r *reader, v *IssueRow) { v.Sprints = r.strs() }},
	{"parent_issue_key", func(r *reader, v *IssueRow) { v.ParentIssueKey = r.str() }},
	{"epic_issue_key", func(r *reader, v *IssueRow) { v.EpicIssueKey = r.str() }},
	{"aliases", func(r *reader, v *IssueRow) { v.Aliases = r.strs() }},
	{"was_moved", func(r *reader, v *IssueRow) { v.WasMoved = r.bool() }},
	{"moved_at", func(r *reader, v *IssueRow) { v.MovedAt = r.time() }},
	{"moved_by", func(r *reader, v *IssueRow) { v.MovedBy = r.str() }},
	{"started_at", func(r *reader, v *IssueRow) { v.StartedAt = r.time() }},
	{"done_at", func(r *reader, v *IssueRow) { v.DoneAt = r.time() }},
	{"lead_time", func(r *reader, v *IssueRow) { v.LeadTime = r.int64Ptr() }},
	{"lead_time_business", func(r *reader, v *IssueRow) { v.LeadTimeBusiness = r.int64Ptr() }},
	{"cycle_time", func(r *reader, v *IssueRow) { v.CycleTime = r.int64Ptr() }},
	{"cycle_time_business", func(r *reader, v *IssueRow) { v.CycleTimeBusiness = r.int64Ptr() }},
	{"active_time", func(r *reader, v *IssueRow) { v.ActiveTime = r.int64() }},
	{"paused_time", func(r *reader, v *IssueRow) { v.PausedTime = r.int64() }},
	{"flow_efficiency", func(r *reader, v *IssueRow) { v.FlowEfficiency = r.float64Ptr() }},
	{"reopen_count", func(r *reader, v *IssueRow) { v.ReopenCount = uint32(r.uint64()) }},
	{"current_status_since", func(r *reader, v *IssueRow) { v.CurrentStatusSince = r.time() }},
	{"current_status_age", func(r *reader, v *IssueRow) { v.CurrentStatusAge = r.int64() }},
	{"anomalies", func(r *reader, v *IssueRow) { v.Anomalies = uint32(r.uint64()) }},
	{"spent", func(r *reader, v *IssueRow) { v.Spent = r.int64() }},
	{"estimation", func(r *reader, v *IssueRow) { v.Estimation = r.int64() }},
	{"original_estimation", func(r *reader, v *IssueRow) { v.OriginalEstimation = r.int64() }},
	{"is_deleted", func(r *reader, v *IssueRow) { v.IsDeleted = r.bool() }},
	{"deleted_detected_at", func(r *reader, v *IssueRow) { v.DeletedDetectedAt = r.time() }},
	{"raw", func(r *reader, v *IssueRow) { v.Raw = r.str() }},
	{"custom", func(r *reader, v *IssueRow) { v.Custom = r.custom() }},
}

// custom reads the custom fields as the reflective decoder reads a
// map[string]any, for the types the transformer puts there: string,
// int64, uint64, float64, time.Time and []string (read as []any), or nil.
// Other forms fail (the reflective decoder makes an int8 of a small
// integer, a float32, a []byte ...).
func (r *reader) custom() map[string]any {
	n := r.mapLen()
	if !r.fits(2 * n) {
		return nil
	}
	m := make(map[string]any, n)
	for range n {
		k := r.str()
		m[k] = r.customValue()
	}
	return m
}

func (r *reader) customValue() any {
	switch c := r.peek(); {
	case c == 0xc0:
		r.i++
		return nil
	case isStr(c):
		return r.str()
	case c == 0xd3:
		return r.int64()
	case c == 0xcf:
		return r.uint64()
	case c == 0xcb:
		return r.float64()
	case c == 0xd6 || c == 0xd7 || c == 0xc7:
		return r.time()
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		return r.anyStrs()
	}
	r.fail()
	return nil
}

// anyStrs reads an array of strings as the reflective decoder reads an
// array into an interface: a []any.
func (r *reader) anyStrs() []any {
	n := r.arrayLen()
	if !r.fits(n) {
		return nil
	}
	s := make([]any, n)
	for i := range s {
		if !isStr(r.peek()) {
			r.fail()
			return nil
		}
		s[i] = r.str()
	}
	return s
}

var metricRowFields = []field[MetricRow]{
	{"issue_id", func(r *reader, v *MetricRow) { v.IssueID = r.str() }},
	{"issue_key", func(r *reader, v *MetricRow) { v.IssueKey = r.str() }},
	{"status_name", func(r *reader, v *MetricRow) { v.StatusName = r.str() }},
	{"status_key", func(r *reader, v *MetricRow) { v.StatusKey = r.str() }},
	{"status_type", func(r *reader, v *MetricRow) { v.StatusType = r.str() }},
	{"status_transitions_count", func(r *reader, v *MetricRow) { v.StatusTransitionsCount = uint32(r.uint64()) }},
	{"duration", func(r *reader, v *MetricRow) { v.Duration = r.int64() }},
	{"human_readable_duration", func(r *reader, v *MetricRow) { v.HumanReadableDuration = r.str() }},
	{"busdays_duration", func(r *reader, v *MetricRow) { v.BusdaysDuration = r.int64() }},
	{"human_readable_busdays_duration", func(r *reader, v *MetricRow) { v.HumanReadableBusdaysDuration = r.str() }},
	{"last_seen", func(r *reader, v *MetricRow) { v.LastSeen = r.time() }},
	{"is_current", func(r *reader, v *MetricRow) { v.IsCurrent = r.bool() }},
}

var intervalRowFields = []field[IntervalRow]{
	{"issue_id", func(r *reader, v *IntervalRow) { v.IssueID = r.str() }},
	{"issue_key", func(r *reader, v *IntervalRow) { v.IssueKey = r.str() }},
	{"queue", func(r *reader, v *IntervalRow) { v.Queue = r.str() }},
	{"status_name", func(r *reader, v *IntervalRow) { v.StatusName = r.str() }},
	{"status_key", func(r *reader, v *IntervalRow) { v.StatusKey = r.str() }},
	{"status_type", func(r *reader, v *IntervalRow) { v.StatusType = r.str() }},
	{"visit_number", func(r *reader, v *IntervalRow) { v.VisitNumber = uint32(r.uint64()) }},
	{"entered_at", func(r *reader, v *IntervalRow) { v.EnteredAt = r.time() }},
	{"left_at", func(r *reader, v *IntervalRow) { v.LeftAt = r.time() }},
	{"duration", func(r *reader, v *IntervalRow) { v.Duration = r.int64() }},
	{"busdays_duration", func(r *reader, v *IntervalRow) { v.BusdaysDuration = r.int64() }},
	{"is_current", func(r *reader, v *IntervalRow) { v.IsCurrent = r.bool() }},
}

var changelogRowFields = []field[ChangelogRow]{
	{"issue_id", func(r *reader, v *ChangelogRow) { v.IssueID = r.str() }},
	{"issue_key", func(r *reader, v *ChangelogRow) { v.IssueKey = r.str() }},
	{"queue", func(r *reader, v *ChangelogRow) { v.Queue = r.str() }},
	{"entry_id", func(r *reader, v *ChangelogRow) { v.EntryID = r.str() }},
	{"field_index", func(r *reader, v *ChangelogRow) { v.FieldIndex = uint16(r.uint64()) }},
	{"event_time", func(r *reader, v *ChangelogRow) { v.EventTime = r.time() }},
	{"event_type", func(r *reader, v *ChangelogRow) { v.EventType = r.str() }},
	{"transport", func(r *reader, v *ChangelogRow) { v.Transport = r.str() }},
	{"actor", func(r *reader, v *ChangelogRow) { v.Actor = r.str() }},
	{"changed_field", func(r *reader, v *ChangelogRow) { v.ChangedField = r.str() }},
	{"field_display", func(r *reader, v *ChangelogRow) { v.FieldDisplay = r.str() }},
	{"changed_from", func(r *reader, v *ChangelogRow) { v.ChangedFrom = r.str() }},
	{"changed_to", func(r *reader, v *ChangelogRow) { v.ChangedTo = r.str() }},
}

var commentRowFields = []field[CommentRow]{
	{"comment_id", func(r *reader, v *CommentRow) { v.CommentID = r.str() }},
	{"long_id", func(r *reader, v *CommentRow) { v.LongID = r.str() }},
	{"author", func(r *reader, v *CommentRow) { v.Author = r.str() }},
	{"author_display", func(r *reader, v *CommentRow) { v.AuthorName = r.str() }},
	{"created_at", func(r *reader, v *CommentRow) { v.CreatedAt = r.time() }},
	{"updated_at", func(r *reader, v *CommentRow) { v.UpdatedAt = r.time() }},
	{"text", func(r *reader, v *CommentRow) { v.Text = r.str() }},
	{"text_length", func(r *reader, v *CommentRow) { v.TextLength = uint32(r.uint64()) }},
	{"type", func(r *reader, v *CommentRow) { v.Type = r.str() }},
	{"transport", func(r *reader, v *CommentRow) { v.Transport = r.str() }},
	{"is_deleted", func(r *reader, v *CommentRow) { v.Deleted = r.bool() }},
}

var worklogRowFields = []field[WorklogRow]{
	{"worklog_id", func(r *reader, v *WorklogRow) { v.WorklogID = r.str() }},
	{"author", func(r *reader, v *WorklogRow) { v.Author = r.str() }},
	{"start", func(r *reader, v *WorklogRow) { v.Start = r.time() }},
	{"duration", func(r *reader, v *WorklogRow) { v.Duration = r.str() }},
	{"duration_seconds", func(r *reader, v *WorklogRow) { v.Seconds = r.int64() }},
	{"comment", func(r *reader, v *WorklogRow) { v.Comment = r.str() }},
	{"created_at", func(r *reader, v *WorklogRow) { v.CreatedAt = r.time() }},
	{"updated_at", func(r *reader, v *WorklogRow) { v.UpdatedAt = r.time() }},
}

var linkRowFields = []field[LinkRow]{
	{"link_id", func(r *reader, v *LinkRow) { v.LinkID = r.str() }},
	{"linked_issue_key", func(r *reader, v *LinkRow) { v.LinkedIssueKey = r.str() }},
	{"linked_issue_id", func(r *reader, v *LinkRow) { v.LinkedIssueID = r.str() }},
	{"type_id", func(r *reader, v *LinkRow) { v.TypeID = r.str() }},
	{"direction", func(r *reader, v *LinkRow) { v.Direction = r.str() }},
	{"relationship", func(r *reader, v *LinkRow) { v.Relationship = r.str() }},
	{"author", func(r *reader, v *LinkRow) { v.Author = r.str() }},
	{"created_at", func(r *reader, v *LinkRow) { v.CreatedAt = r.time() }},
	{"updated_at", func(r *reader, v *LinkRow) { v.UpdatedAt = r.time() }},
}

var issueSprintRowFields = []field[IssueSprintRow]{
	{"sprint_id", func(r *reader, v *IssueSprintRow) { v.SprintID = r.str() }},
	{"sprint_name", func(r *reader, v *IssueSprintRow) { v.SprintName = r.str() }},
	{"added_at", func(r *reader, v *IssueSprintRow) { v.AddedAt = r.time() }},
	{"removed_at", func(r *reader, v *IssueSprintRow) { v.RemovedAt = r.time() }},
	{"is_current", func(r *reader, v *IssueSprintRow) { v.Current = r.bool() }},
}
