package wire

import "github.com/vmihailenco/msgpack/v5"

// appendIssueRows writes rows as msgpack.Marshal does (see appender):
// the fields in declaration order, those tagged omitempty left out when
// empty. Only the custom fields, whose values are of several types, go
// through the reflective encoder.
func appendIssueRows(a *appender, r *IssueRows) error {
	optional := [...]bool{len(r.Statuses) > 0, len(r.Comments) > 0, len(r.Worklogs) > 0, len(r.Links) > 0, len(r.Sprints) > 0, r.Parts != 0}
	n := 9
	for _, present := range optional {
		if present {
			n++
		}
	}
	a.mapLen(n)
	a.key("issue_id")
	a.str(r.IssueID)
	a.key("issue_key")
	a.str(r.IssueKey)
	a.key("source_version")
	a.uint64(r.SourceVersion)
	a.key("transformed_at")
	a.time(r.TransformedAt)
	a.key("generation")
	a.str(r.Generation)
	a.key("issue")
	if err := appendIssueRow(a, &r.Issue); err != nil {
		return err
	}
	a.key("metrics")
	appendSlice(a, r.Metrics, appendMetricRow)
	a.key("intervals")
	appendSlice(a, r.Intervals, appendIntervalRow)
	a.key("changelog")
	appendSlice(a, r.Changelog, appendChangelogRow)
	appendRowsParts(a, r, optional)
	return nil
}

// appendRowsParts writes the omitempty fields of IssueRows that are
// present.
func appendRowsParts(a *appender, r *IssueRows, present [6]bool) {
	if present[0] {
		a.key("statuses")
		appendSlice(a, r.Statuses, appendStatus)
	}
	if present[1] {
		a.key("comments")
		appendSlice(a, r.Comments, appendCommentRow)
	}
	if present[2] {
		a.key("worklogs")
		appendSlice(a, r.Worklogs, appendWorklogRow)
	}
	if present[3] {
		a.key("links")
		appendSlice(a, r.Links, appendLinkRow)
	}
	if present[4] {
		a.key("sprints")
		appendSlice(a, r.Sprints, appendIssueSprintRow)
	}
	if present[5] {
		a.key("parts")
		a.uint8(uint8(r.Parts))
	}
}

// issueRowFields is the number of IssueRow's fields besides Custom.
const issueRowFields = 53

func appendIssueRow(a *appender, r *IssueRow) error {
	if len(r.Custom) > 0 {
		a.mapLen(issueRowFields + 1)
	} else {
		a.mapLen(issueRowFields)
	}
	appendIssueColumns(a, r)
	appendIssueFigures(a, r)
	if len(r.Custom) == 0 {
		return nil
	}
	a.key("custom")
	b, err := msgpack.Marshal(r.Custom)
	a.b = append(a.b, b...)
	return err
}

// appendIssueColumns writes the issue's own columns (the old tool's).
func appendIssueColumns(a *appender, r *IssueRow) {
	for _, f := range [...]struct{ k, v string }{
		{"issue_id", r.IssueID}, {"issue_key", r.IssueKey}, {"queue", r.Queue}, {"title", r.Title},
		{"issue_type", r.IssueType}, {"priority", r.Priority}, {"status", r.Status}, {"status_key", r.StatusKey},
		{"status_type", r.StatusType}, {"resolution", r.Resolution}, {"assignee", r.Assignee}, {"author", r.Author},
		{"qa_engineer", r.QAEngineer},
	} {
		a.key(f.k)
		a.str(f.v)
	}
	a.key("tags")
	a.strings(r.Tags)
	a.key("components")
	a.strings(r.Components)
	a.key("project")
	a.str(r.Project)
	a.key("created_at")
	a.time(r.CreatedAt)
	a.key("updated_at")
	a.time(r.UpdatedAt)
	a.key("deadline")
	a.time(r.Deadline)
	a.key("closed_at")
	a.time(r.ClosedAt)
	a.key("resolved_at")
	a.time(r.ResolvedAt)
	a.key("start_date")
	a.time(r.StartDate)
	a.key("end_date")
	a.time(r.EndDate)
	a.key("is_subtask")
	a.bool(r.IsSubtask)
	a.key("is_closed")
	a.bool(r.IsClosed)
	a.key("is_resolved")
	a.bool(r.IsResolved)
	a.key("story_points")
	a.float64(r.StoryPoints)
	a.key("sprints")
	a.strings(r.Sprints)
	a.key("parent_issue_key")
	a.str(r.ParentIssueKey)
	a.key("epic_issue_key")
	a.str(r.EpicIssueKey)
	a.key("aliases")
	a.strings(r.Aliases)
	a.key("was_moved")
	a.bool(r.WasMoved)
	a.key("moved_at")
	a.time(r.MovedAt)
	a.key("moved_by")
	a.str(r.MovedBy)
}

// appendIssueFigures writes the flow figures and what follows them.
func appendIssueFigures(a *appender, r *IssueRow) {
	a.key("started_at")
	a.time(r.StartedAt)
	a.key("done_at")
	a.time(r.DoneAt)
	a.key("lead_time")
	a.int64Ptr(r.LeadTime)
	a.key("lead_time_business")
	a.int64Ptr(r.LeadTimeBusiness)
	a.key("cycle_time")
	a.int64Ptr(r.CycleTime)
	a.key("cycle_time_business")
	a.int64Ptr(r.CycleTimeBusiness)
	a.key("active_time")
	a.int64(r.ActiveTime)
	a.key("paused_time")
	a.int64(r.PausedTime)
	a.key("flow_efficiency")
	a.float64Ptr(r.FlowEfficiency)
	a.key("reopen_count")
	a.uint32(r.ReopenCount)
	a.key("current_status_since")
	a.time(r.CurrentStatusSince)
	a.key("current_status_age")
	a.int64(r.CurrentStatusAge)
	a.key("anomalies")
	a.uint32(r.Anomalies)
	a.key("spent")
	a.int64(r.Spent)
	a.key("estimation")
	a.int64(r.Estimation)
	a.key("original_estimation")
	a.int64(r.OriginalEstimation)
	a.key("is_deleted")
	a.bool(r.IsDeleted)
	a.key("deleted_detected_at")
	a.time(r.DeletedDetectedAt)
	a.key("raw")
	a.str(r.Raw)
}

func appendMetricRow(a *appender, r *MetricRow) {
	a.mapLen(12)
	a.key("issue_id")
	a.str(r.IssueID)
	a.key("issue_key")
	a.str(r.IssueKey)
	a.key("status_name")
	a.str(r.StatusName)
	a.key("status_key")
	a.str(r.StatusKey)
	a.key("status_type")
	a.str(r.StatusType)
	a.key("status_transitions_count")
	a.uint32(r.StatusTransitionsCount)
	a.key("duration")
	a.int64(r.Duration)
	a.key("human_readable_duration")
	a.str(r.HumanReadableDuration)
	a.key("busdays_duration")
	a.int64(r.BusdaysDuration)
	a.key("human_readable_busdays_duration")
	a.str(r.HumanReadableBusdaysDuration)
	a.key("last_seen")
	a.time(r.LastSeen)
	a.key("is_current")
	a.bool(r.IsCurrent)
}

func appendIntervalRow(a *appender, r *IntervalRow) {
	a.mapLen(12)
	a.key("issue_id")
	a.str(r.IssueID)
	a.key("issue_key")
	a.str(r.IssueKey)
	a.key("queue")
	a.str(r.Queue)
	a.key("status_name")
	a.str(r.StatusName)
	a.key("status_key")
	a.str(r.StatusKey)
	a.key("status_type")
	a.str(r.StatusType)
	a.key("visit_number")
	a.uint32(r.VisitNumber)
	a.key("entered_at")
	a.time(r.EnteredAt)
	a.key("left_at")
	a.time(r.LeftAt)
	a.key("duration")
	a.int64(r.Duration)
	a.key("busdays_duration")
	a.int64(r.BusdaysDuration)
	a.key("is_current")
	a.bool(r.IsCurrent)
}

func appendChangelogRow(a *appender, r *ChangelogRow) {
	a.mapLen(13)
	a.key("issue_id")
	a.str(r.IssueID)
	a.key("issue_key")
	a.str(r.IssueKey)
	a.key("queue")
	a.str(r.Queue)
	a.key("entry_id")
	a.str(r.EntryID)
	a.key("field_index")
	a.uint16(r.FieldIndex)
	a.key("event_time")
	a.time(r.EventTime)
	a.key("event_type")
	a.str(r.EventType)
	a.key("transport")
	a.str(r.Transport)
	a.key("actor")
	a.str(r.Actor)
	a.key("changed_field")
	a.str(r.ChangedField)
	a.key("field_display")
	a.str(r.FieldDisplay)
	a.key("changed_from")
	a.str(r.ChangedFrom)
	a.key("changed_to")
	a.str(r.ChangedTo)
}

func appendStatus(a *appender, s *Status) {
	a.mapLen(3)
	a.key("key")
	a.str(s.Key)
	a.key("name")
	a.str(s.Name)
	a.key("type")
	a.str(s.Type)
}

func appendCommentRow(a *appender, r *CommentRow) {
	a.mapLen(11)
	a.key("comment_id")
	a.str(r.CommentID)
	a.key("long_id")
	a.str(r.LongID)
	a.key("author")
	a.str(r.Author)
	a.key("author_display")
	a.str(r.AuthorName)
	a.key("created_at")
	a.time(r.CreatedAt)
	a.key("updated_at")
	a.time(r.UpdatedAt)
	a.key("text")
	a.str(r.Text)
	a.key("text_length")
	a.uint32(r.TextLength)
	a.key("type")
	a.str(r.Type)
	a.key("transport")
	a.str(r.Transport)
	a.key("is_deleted")
	a.bool(r.Deleted)
}

func appendWorklogRow(a *appender, r *WorklogRow) {
	a.mapLen(8)
	a.key("worklog_id")
	a.str(r.WorklogID)
	a.key("author")
	a.str(r.Author)
	a.key("start")
	a.time(r.Start)
	a.key("duration")
	a.str(r.Duration)
	a.key("duration_seconds")
	a.int64(r.Seconds)
	a.key("comment")
	a.str(r.Comment)
	a.key("created_at")
	a.time(r.CreatedAt)
	a.key("updated_at")
	a.time(r.UpdatedAt)
}

func appendLinkRow(a *appender, r *LinkRow) {
	a.mapLen(9)
	a.key("link_id")
	a.str(r.LinkID)
	a.key("linked_issue_key")
	a.str(r.LinkedIssueKey)
	a.key("linked_issue_id")
	a.str(r.LinkedIssueID)
	a.key("type_id")
	a.str(r.TypeID)
	a.key("direction")
	a.str(r.Direction)
	a.key("relationship")
	a.str(r.Relationship)
	a.key("author")
	a.str(r.Author)
	a.key("created_at")
	a.time(r.CreatedAt)
	a.key("updated_at")
	a.time(r.UpdatedAt)
}

func appendIssueSprintRow(a *appender, r *IssueSprintRow) {
	a.mapLen(5)
	a.key("sprint_id")
	a.str(r.SprintID)
	a.key("sprint_name")
	a.str(r.SprintName)
	a.key("added_at")
	a.time(r.AddedAt)
	a.key("removed_at")
	a.time(r.RemovedAt)
	a.key("is_current")
	a.bool(r.Current)
}
