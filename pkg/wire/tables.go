package wire

// Tables names the ClickHouse table of each kind of row. It is the one
// home of the names: the configuration fills it, the migrations, the sink
// and the loader read it. Each table has a deduplicated view named after
// it with the suffix "_view".
type Tables struct {
	Issues          string
	IssueMetrics    string
	IssuesChangelog string
	StatusIntervals string
	Statuses        string
	Comments        string
	Worklogs        string
	Links           string
	IssueSprints    string
	Boards          string
	Sprints         string
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
