// Package wire is the only contract between the stages: NATS subjects,
// stream names, message IDs and the msgpack structs that cross them.
//
// Every message carries the header SchemaHeader with its schema version; a
// consumer that meets an unknown version terminates the message as permanent.
// The human-readable contracts with examples are in schemas/.
package wire

import (
	"fmt"
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
func RawSubject(issueID string) string { return RawSubjectRoot + ".issue." + issueID }

// RowsSubject is the subject of an issue's transformed rows.
func RowsSubject(issueID string) string { return RowsSubjectRoot + ".issue." + issueID }

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

// SnapshotMsgID is the deterministic Nats-Msg-Id of a snapshot: the same
// issue state fetched twice (overlap window, restart) is published once.
func SnapshotMsgID(issueID string, updatedAt time.Time, version int64) string {
	return fmt.Sprintf("raw:%s:%d:%d", issueID, updatedAt.UnixMilli(), version)
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
