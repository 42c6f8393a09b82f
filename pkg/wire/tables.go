package wire

// Tables names the ClickHouse table of each kind of row. It is the one
// home of the names: the configuration fills it, the migrations, the sink
// and the loader read it. Each table has a deduplicated view named after
// it with the suffix "_view". The env tag of a field names the variable
// that sets it.
type Tables struct {
	Issues          string `env:"EXPORTER_CLICKHOUSE__ISSUES_TABLE"`
	IssueMetrics    string `env:"EXPORTER_CLICKHOUSE__ISSUE_METRICS_TABLE"`
	IssuesChangelog string `env:"EXPORTER_CLICKHOUSE__ISSUES_CHANGELOG_TABLE"`
	StatusIntervals string `env:"EXPORTER_CLICKHOUSE__STATUS_INTERVALS_TABLE"`
	Statuses        string `env:"EXPORTER_CLICKHOUSE__STATUSES_TABLE"`
	Comments        string `env:"EXPORTER_CLICKHOUSE__ISSUE_COMMENTS_TABLE"`
	Worklogs        string `env:"EXPORTER_CLICKHOUSE__ISSUE_WORKLOGS_TABLE"`
	Links           string `env:"EXPORTER_CLICKHOUSE__ISSUE_LINKS_TABLE"`
	IssueSprints    string `env:"EXPORTER_CLICKHOUSE__ISSUE_SPRINTS_TABLE"`
	Boards          string `env:"EXPORTER_CLICKHOUSE__BOARDS_TABLE"`
	Sprints         string `env:"EXPORTER_CLICKHOUSE__SPRINTS_TABLE"`
}

// DefaultTables returns the old tool's names plus the new tables'.
func DefaultTables() Tables {
	return Tables{
		Issues:          "issues",
		IssueMetrics:    "issue_metrics",
		IssuesChangelog: "issues_changelog",
		StatusIntervals: "issue_status_intervals",
		Statuses:        "statuses",
		Comments:        "issue_comments",
		Worklogs:        "issue_worklogs",
		Links:           "issue_links",
		IssueSprints:    "issue_sprints",
		Boards:          "boards",
		Sprints:         "sprints",
	}
}

// TableRef is one table: the field of Tables that names it and a pointer
// to the name.
type TableRef struct {
	Field string
	Name  *string
}

// Refs lists every table of t, in a stable order.
func (t *Tables) Refs() []TableRef {
	return []TableRef{
		{"Issues", &t.Issues},
		{"IssueMetrics", &t.IssueMetrics},
		{"IssuesChangelog", &t.IssuesChangelog},
		{"StatusIntervals", &t.StatusIntervals},
		{"Statuses", &t.Statuses},
		{"Comments", &t.Comments},
		{"Worklogs", &t.Worklogs},
		{"Links", &t.Links},
		{"IssueSprints", &t.IssueSprints},
		{"Boards", &t.Boards},
		{"Sprints", &t.Sprints},
	}
}

// Names lists the table names of t in the order of Refs.
func (t Tables) Names() []string {
	refs := t.Refs()
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = *r.Name
	}
	return out
}
