// Package wire is the only contract between the stages: NATS subjects,
// stream names, message IDs and the msgpack structs that cross them.
//
// Every message carries the header SchemaHeader with its schema version; a
// consumer that meets an unknown version terminates the message as permanent.
// The human-readable contracts with examples are in schemas/.
package wire

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// Stream and subject names. The raw stream keeps the latest snapshot of
// every issue (limits retention, one message per subject) so that it can be
// replayed; the rows stream is a work queue drained by the loaders.
const (
	RawStream       = "TRACKER_RAW"
	RawSubjectRoot  = "tracker.raw"
	RowsStream      = "TRACKER_ROWS"
	RowsSubjectRoot = "tracker.rows"
	DeadStream      = "TRACKER_DLQ"
	DeadSubjectRoot = "tracker.dlq"

	// SchemaHeader names the NATS header holding the message schema version.
	SchemaHeader = "Tracker-Schema"
	// ErrorHeader carries the reason on a dead-lettered message.
	ErrorHeader = "Tracker-Error"
	// OriginalSubjectHeader carries the subject a dead-lettered message
	// came from.
	OriginalSubjectHeader = "Tracker-Original-Subject"
)

// Schema versions of the message types.
const (
	SnapshotSchema = 1
	RowsSchema     = 1
)

// RawSubject is the subject of an issue's raw snapshots. The issue id (not
// the key) is used so that a moved issue keeps one subject.
func RawSubject(issueID string) string { return RawIssuePrefix + issueID }

// RawIssuePrefix starts the subject of every issue's raw snapshot.
const RawIssuePrefix = RawSubjectRoot + ".issue."

// TombstoneSubject marks, in the raw stream, an issue that a
// reconciliation found gone (its snapshot then says Deleted): the index of
// the tombstones, which the transformer ignores.
func TombstoneSubject(issueID string) string { return RawSubjectRoot + ".tombstone." + issueID }

// ReconciledSubject holds the time of the last reconciliation (ignored by
// the transformer).
const ReconciledSubject = RawSubjectRoot + ".reconciled"

// RowsSubject is the subject of an issue's transformed rows.
func RowsSubject(issueID string) string { return rowsIssuePrefix + issueID }

// rowsIssuePrefix is what a RowsSubject puts before the issue id.
const rowsIssuePrefix = RowsSubjectRoot + ".issue."

// RowsSubjectIssue is the issue id of a RowsSubject (false: not one).
func RowsSubjectIssue(subject string) (string, bool) {
	return strings.CutPrefix(subject, rowsIssuePrefix)
}

// DeadSubject is where a message of the given stage that can never be
// processed is parked with the reason in ErrorHeader:
// tracker.dlq.<stage>.<original subject>, so the dead letters of one issue
// can be looked up by subject.
func DeadSubject(stage, original string) string {
	return DeadSubjectRoot + "." + stage + "." + original
}

// RedriveMsgID is the Nats-Msg-Id of a snapshot published again from the
// raw stream so that it is transformed and loaded once more: unique per
// redrive, so JetStream's duplicate window does not drop it.
func RedriveMsgID(issueID, tag string) string { return "redrive:" + issueID + ":" + tag }

// MsgID is the deterministic Nats-Msg-Id of a snapshot: the same issue
// state fetched twice (overlap window, restart) is published once. The
// optional parts count in: comments or worklogs that changed without
// touching the issue make a new state.
func (s *IssueSnapshot) MsgID() string {
	id := fmt.Sprintf("raw:%s:%d:%d", s.IssueID, s.UpdatedAt.UnixMilli(), s.Version)
	if s.Parts == 0 {
		return id
	}
	h := sha256.New()
	for _, part := range [][][]byte{s.Comments, s.Worklogs, s.Links} {
		for _, item := range part {
			h.Write(item)
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return fmt.Sprintf("%s:%d:%x", id, s.Parts, h.Sum(nil)[:12])
}

// RowsMsgID is the Nats-Msg-Id of the rows made from one snapshot by one
// transform generation (the configuration fingerprint), so a redelivered
// snapshot is loaded once while a replay with a new configuration is not
// dropped as a duplicate.
func RowsMsgID(issueID string, sourceVersion uint64, generation string) string {
	return fmt.Sprintf("rows:%s:%d:%s", issueID, sourceVersion, generation)
}

// IssueSnapshot is one issue as fetched from Tracker: the issue JSON and
// every changelog entry exactly as received, plus the directory facts the
// transformer needs (so replay never calls Tracker).
type IssueSnapshot struct {
	IssueID   string    `msgpack:"issue_id"`
	IssueKey  string    `msgpack:"issue_key"`
	UpdatedAt time.Time `msgpack:"updated_at"`
	// Version is the issue's Tracker version counter (0 when absent).
	Version   int64     `msgpack:"version"`
	FetchedAt time.Time `msgpack:"fetched_at"`
	// Issue is the issue object as received (JSON).
	Issue []byte `msgpack:"issue"`
	// Changelog holds every changelog entry as received (JSON), oldest first.
	Changelog [][]byte `msgpack:"changelog"`
	// Users describes the users the issue and its changelog refer to, keyed
	// by the user ref id. Users the directory does not know are absent.
	Users map[string]User `msgpack:"users"`
	// Statuses is the status directory (keyed by status key).
	Statuses map[string]Status `msgpack:"statuses"`
	// Comments, Worklogs and Links are the issue's comments, worklog
	// records and links as received (JSON), for the parts Parts says the
	// snapshot carries.
	Comments [][]byte `msgpack:"comments,omitempty"`
	Worklogs [][]byte `msgpack:"worklogs,omitempty"`
	Links    [][]byte `msgpack:"links,omitempty"`
	// Parts says which of comments, worklogs and links the snapshot
	// carries (PartComments|...): a part it does not carry was not
	// exported (switched off), which is not the same as none.
	Parts Part `msgpack:"parts,omitempty"`
	// Deleted marks an issue that Tracker no longer returns for the
	// configured scope (deleted, or hidden from the token), as found by a
	// reconciliation at DeletedAt; the rest is its last snapshot.
	Deleted   bool      `msgpack:"deleted,omitempty"`
	DeletedAt time.Time `msgpack:"deleted_at,omitempty"`
}

// Part is a set of the optional parts of an issue snapshot.
type Part uint8

// The optional parts of an issue snapshot.
const (
	PartComments Part = 1 << iota
	PartWorklogs
	PartLinks
)

// Has reports whether p includes q.
func (p Part) Has(q Part) bool { return p&q != 0 }

// DirectorySubject is the subject of the boards and sprints directory
// snapshot (one message kept in the raw stream, the latest).
const DirectorySubject = RawSubjectRoot + ".directory"

// DirectoryRowsSubject carries the rows made from a directory snapshot.
const DirectoryRowsSubject = RowsSubjectRoot + ".directory"

// DirectorySnapshot is the org-wide directory an extraction pass fetches
// once: boards and their sprints, as received (JSON).
type DirectorySnapshot struct {
	FetchedAt time.Time `msgpack:"fetched_at"`
	Boards    [][]byte  `msgpack:"boards"`
	Sprints   [][]byte  `msgpack:"sprints"`
}

// DirectoryRows are the rows of the boards and sprints tables.
type DirectoryRows struct {
	// SourceVersion is the fetch time in ms: the newest directory wins.
	SourceVersion uint64      `msgpack:"source_version"`
	Boards        []BoardRow  `msgpack:"boards"`
	Sprints       []SprintRow `msgpack:"sprints"`
}

// BoardRow is one row of boards.
type BoardRow struct {
	BoardID string `msgpack:"board_id"`
	Name    string `msgpack:"name"`
	Version int64  `msgpack:"board_version"`
}

// SprintRow is one row of sprints.
type SprintRow struct {
	SprintID  string    `msgpack:"sprint_id"`
	Name      string    `msgpack:"name"`
	BoardID   string    `msgpack:"board_id"`
	BoardName string    `msgpack:"board_name"`
	Status    string    `msgpack:"status"`
	Archived  bool      `msgpack:"archived"`
	StartDate time.Time `msgpack:"start_date"`
	EndDate   time.Time `msgpack:"end_date"`
	StartAt   time.Time `msgpack:"start_at"`
	EndAt     time.Time `msgpack:"end_at"`
	CreatedAt time.Time `msgpack:"created_at"`
	CreatedBy string    `msgpack:"created_by"`
}

// User is what the users directory says about one user.
type User struct {
	Login     string `msgpack:"login"`
	Email     string `msgpack:"email"`
	Display   string `msgpack:"display"`
	Dismissed bool   `msgpack:"dismissed"`
}

// Status is one entry of the status directory.
type Status struct {
	Key  string `msgpack:"key"`
	Name string `msgpack:"name"`
	Type string `msgpack:"type"`
}

// SourceVersion is the row version derived from a snapshot: the issue's
// update time in milliseconds. A newer snapshot always has a larger value,
// so ReplacingMergeTree keeps the newest; equal values mean the same issue
// state, where the last inserted (a replay) wins.
func (s *IssueSnapshot) SourceVersion() uint64 { return VersionOf(s.UpdatedAt) }

// VersionOf is the row version of an issue updated at t: t in
// milliseconds (0 before 1970).
func VersionOf(t time.Time) uint64 {
	ms := t.UnixMilli()
	if ms < 0 {
		return 0
	}
	return uint64(ms)
}

// IssueRows is every row derived from one snapshot: an issue is always
// loaded whole, from one message.
type IssueRows struct {
	IssueID  string `msgpack:"issue_id"`
	IssueKey string `msgpack:"issue_key"`
	// SourceVersion is IssueSnapshot.SourceVersion of the snapshot.
	SourceVersion uint64    `msgpack:"source_version"`
	TransformedAt time.Time `msgpack:"transformed_at"`
	// Generation fingerprints the transform configuration.
	Generation string        `msgpack:"generation"`
	Issue      IssueRow      `msgpack:"issue"`
	Metrics    []MetricRow   `msgpack:"metrics"`
	Intervals  []IntervalRow `msgpack:"intervals"`
	// Changelog is empty unless changelog export is enabled.
	Changelog []ChangelogRow `msgpack:"changelog"`
	// Statuses are the directory entries of the statuses the issue went
	// through, for the statuses dimension table.
	Statuses []Status `msgpack:"statuses,omitempty"`
	// Comments, Worklogs, Links and Sprints are the rows of the
	// issue_comments, issue_worklogs, issue_links and issue_sprints tables.
	Comments []CommentRow     `msgpack:"comments,omitempty"`
	Worklogs []WorklogRow     `msgpack:"worklogs,omitempty"`
	Links    []LinkRow        `msgpack:"links,omitempty"`
	Sprints  []IssueSprintRow `msgpack:"sprints,omitempty"`
	// Parts says which of comments, worklogs and links were exported.
	Parts Part `msgpack:"parts,omitempty"`
}

// CommentRow is one row of issue_comments: one comment, or a comment that
// was removed (Deleted, with what the changelog said of it).
type CommentRow struct {
	CommentID  string    `msgpack:"comment_id"`
	LongID     string    `msgpack:"long_id"`
	Author     string    `msgpack:"author"`
	AuthorName string    `msgpack:"author_display"`
	CreatedAt  time.Time `msgpack:"created_at"`
	UpdatedAt  time.Time `msgpack:"updated_at"`
	Text       string    `msgpack:"text"`
	TextLength uint32    `msgpack:"text_length"`
	Type       string    `msgpack:"type"`
	Transport  string    `msgpack:"transport"`
	Deleted    bool      `msgpack:"is_deleted"`
}

// WorklogRow is one row of issue_worklogs: one record of time spent.
type WorklogRow struct {
	WorklogID string    `msgpack:"worklog_id"`
	Author    string    `msgpack:"author"`
	Start     time.Time `msgpack:"start"`
	// Duration is as received (ISO 8601); Seconds is it in seconds with
	// Tracker's business day (8 h) and week (5 days).
	Duration  string    `msgpack:"duration"`
	Seconds   int64     `msgpack:"duration_seconds"`
	Comment   string    `msgpack:"comment"`
	CreatedAt time.Time `msgpack:"created_at"`
	UpdatedAt time.Time `msgpack:"updated_at"`
}

// LinkRow is one row of issue_links: a link of the issue to another.
type LinkRow struct {
	LinkID         string `msgpack:"link_id"`
	LinkedIssueKey string `msgpack:"linked_issue_key"`
	LinkedIssueID  string `msgpack:"linked_issue_id"`
	TypeID         string `msgpack:"type_id"`
	Direction      string `msgpack:"direction"`
	// Relationship is the link's name seen from this issue: the type's
	// outward name for an outward link, its inward name otherwise.
	Relationship string    `msgpack:"relationship"`
	Author       string    `msgpack:"author"`
	CreatedAt    time.Time `msgpack:"created_at"`
	UpdatedAt    time.Time `msgpack:"updated_at"`
}

// IssueSprintRow is one stay of the issue in a sprint, from its changelog.
type IssueSprintRow struct {
	SprintID   string    `msgpack:"sprint_id"`
	SprintName string    `msgpack:"sprint_name"`
	AddedAt    time.Time `msgpack:"added_at"`
	// RemovedAt is zero while the issue is in the sprint.
	RemovedAt time.Time `msgpack:"removed_at"`
	Current   bool      `msgpack:"is_current"`
}

// IssueRow is one row of the issues table. Times are UTC; a zero time is
// stored as the zero date (the old tool's convention); nil pointers are NULL.
type IssueRow struct {
	IssueID        string    `msgpack:"issue_id"`
	IssueKey       string    `msgpack:"issue_key"`
	Queue          string    `msgpack:"queue"`
	Title          string    `msgpack:"title"`
	IssueType      string    `msgpack:"issue_type"`
	Priority       string    `msgpack:"priority"`
	Status         string    `msgpack:"status"`
	StatusKey      string    `msgpack:"status_key"`
	StatusType     string    `msgpack:"status_type"`
	Resolution     string    `msgpack:"resolution"`
	Assignee       string    `msgpack:"assignee"`
	Author         string    `msgpack:"author"`
	QAEngineer     string    `msgpack:"qa_engineer"`
	Tags           []string  `msgpack:"tags"`
	Components     []string  `msgpack:"components"`
	Project        string    `msgpack:"project"`
	CreatedAt      time.Time `msgpack:"created_at"`
	UpdatedAt      time.Time `msgpack:"updated_at"`
	Deadline       time.Time `msgpack:"deadline"`
	ClosedAt       time.Time `msgpack:"closed_at"`
	ResolvedAt     time.Time `msgpack:"resolved_at"`
	StartDate      time.Time `msgpack:"start_date"`
	EndDate        time.Time `msgpack:"end_date"`
	IsSubtask      bool      `msgpack:"is_subtask"`
	IsClosed       bool      `msgpack:"is_closed"`
	IsResolved     bool      `msgpack:"is_resolved"`
	StoryPoints    float64   `msgpack:"story_points"`
	Sprints        []string  `msgpack:"sprints"`
	ParentIssueKey string    `msgpack:"parent_issue_key"`
	EpicIssueKey   string    `msgpack:"epic_issue_key"`
	Aliases        []string  `msgpack:"aliases"`
	WasMoved       bool      `msgpack:"was_moved"`
	MovedAt        time.Time `msgpack:"moved_at"`
	MovedBy        string    `msgpack:"moved_by"`

	StartedAt          time.Time `msgpack:"started_at"`
	DoneAt             time.Time `msgpack:"done_at"`
	LeadTime           *int64    `msgpack:"lead_time"`
	LeadTimeBusiness   *int64    `msgpack:"lead_time_business"`
	CycleTime          *int64    `msgpack:"cycle_time"`
	CycleTimeBusiness  *int64    `msgpack:"cycle_time_business"`
	ActiveTime         int64     `msgpack:"active_time"`
	PausedTime         int64     `msgpack:"paused_time"`
	FlowEfficiency     *float64  `msgpack:"flow_efficiency"`
	ReopenCount        uint32    `msgpack:"reopen_count"`
	CurrentStatusSince time.Time `msgpack:"current_status_since"`
	CurrentStatusAge   int64     `msgpack:"current_status_age"`
	Anomalies          uint32    `msgpack:"anomalies"`
	// Spent, Estimation and OriginalEstimation are the issue's time
	// tracking fields in seconds (Tracker's business days and weeks).
	Spent              int64 `msgpack:"spent"`
	Estimation         int64 `msgpack:"estimation"`
	OriginalEstimation int64 `msgpack:"original_estimation"`
	// IsDeleted marks an issue Tracker no longer returns (a tombstone);
	// DeletedDetectedAt is when a reconciliation found it gone.
	IsDeleted         bool      `msgpack:"is_deleted"`
	DeletedDetectedAt time.Time `msgpack:"deleted_detected_at"`
	// Raw is the issue JSON as received.
	Raw string `msgpack:"raw"`
	// Custom holds the configured custom fields by column name, already
	// converted to the column's type: string, int64, uint64, float64,
	// time.Time (Date and DateTime) or []string.
	Custom map[string]any `msgpack:"custom,omitempty"`
}

// MetricRow is one row of issue_metrics: one status of one issue.
type MetricRow struct {
	IssueID                      string    `msgpack:"issue_id"`
	IssueKey                     string    `msgpack:"issue_key"`
	StatusName                   string    `msgpack:"status_name"`
	StatusKey                    string    `msgpack:"status_key"`
	StatusType                   string    `msgpack:"status_type"`
	StatusTransitionsCount       uint32    `msgpack:"status_transitions_count"`
	Duration                     int64     `msgpack:"duration"`
	HumanReadableDuration        string    `msgpack:"human_readable_duration"`
	BusdaysDuration              int64     `msgpack:"busdays_duration"`
	HumanReadableBusdaysDuration string    `msgpack:"human_readable_busdays_duration"`
	LastSeen                     time.Time `msgpack:"last_seen"`
	IsCurrent                    bool      `msgpack:"is_current"`
}

// IntervalRow is one row of issue_status_intervals: one visit to a status.
type IntervalRow struct {
	IssueID         string    `msgpack:"issue_id"`
	IssueKey        string    `msgpack:"issue_key"`
	Queue           string    `msgpack:"queue"`
	StatusName      string    `msgpack:"status_name"`
	StatusKey       string    `msgpack:"status_key"`
	StatusType      string    `msgpack:"status_type"`
	VisitNumber     uint32    `msgpack:"visit_number"`
	EnteredAt       time.Time `msgpack:"entered_at"`
	LeftAt          time.Time `msgpack:"left_at"`
	Duration        int64     `msgpack:"duration"`
	BusdaysDuration int64     `msgpack:"busdays_duration"`
	IsCurrent       bool      `msgpack:"is_current"`
}

// ChangelogRow is one row of issues_changelog: one changed field of one
// changelog entry, with values rendered losslessly.
type ChangelogRow struct {
	IssueID      string    `msgpack:"issue_id"`
	IssueKey     string    `msgpack:"issue_key"`
	Queue        string    `msgpack:"queue"`
	EntryID      string    `msgpack:"entry_id"`
	FieldIndex   uint16    `msgpack:"field_index"`
	EventTime    time.Time `msgpack:"event_time"`
	EventType    string    `msgpack:"event_type"`
	Transport    string    `msgpack:"transport"`
	Actor        string    `msgpack:"actor"`
	ChangedField string    `msgpack:"changed_field"`
	FieldDisplay string    `msgpack:"field_display"`
	ChangedFrom  string    `msgpack:"changed_from"`
	ChangedTo    string    `msgpack:"changed_to"`
}
