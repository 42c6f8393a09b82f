package clickhouse

// AnalyticViews names the analytic views that the migrations create over
// the deduplicated *_view views. Every name starts with the name of the
// table it reads, so that several sets of tables can share one database.
type AnalyticViews struct {
	// FlowTimesMonthly: lead and cycle time p50/p85/p95 (calendar and
	// business seconds) per queue and month of done_at.
	FlowTimesMonthly string
	// ThroughputWeekly: issues done per queue and week (Monday) of done_at.
	ThroughputWeekly string
	// WIP: started issues that are not done, per queue and current status.
	WIP string
	// WIPAgeing: one row per started issue that is not done, with its age.
	WIPAgeing string
	// CFDDaily: issues per day, queue and status at the end of the day.
	CFDDaily string
	// IssuesAll: every issue, deleted ones too (issues_view hides them).
	IssuesAll string
	// WorklogsByIssue, WorklogsByPersonDay and WorklogsByQueueWeek: time
	// spent per issue, per person and day, per queue and week.
	WorklogsByIssue, WorklogsByPersonDay, WorklogsByQueueWeek string
	// Blocking: "blocked by" / "depends on" pairs of issues.
	Blocking string
}

// AnalyticViews returns the names of the analytic views of these tables.
func (t TableNames) AnalyticViews() AnalyticViews {
	return AnalyticViews{
		FlowTimesMonthly: t.Issues + "_flow_times_monthly",
		ThroughputWeekly: t.Issues + "_throughput_weekly",
		WIP:              t.Issues + "_wip",
		WIPAgeing:        t.Issues + "_wip_ageing",
		CFDDaily:         t.Issues + "_cfd_daily",
		IssuesAll:        t.Issues + "_all_view",

		WorklogsByIssue:     t.Worklogs + "_by_issue",
		WorklogsByPersonDay: t.Worklogs + "_by_person_day",
		WorklogsByQueueWeek: t.Worklogs + "_by_queue_week",
		Blocking:            t.Links + "_blocking",
	}
}

// List returns the view names in a fixed order.
func (v AnalyticViews) List() []string {
	return []string{v.FlowTimesMonthly, v.ThroughputWeekly, v.WIP, v.WIPAgeing, v.CFDDaily, v.IssuesAll,
		v.WorklogsByIssue, v.WorklogsByPersonDay, v.WorklogsByQueueWeek, v.Blocking}
}

// RowTables returns the tables that InsertRows writes (the issue-derived
// ones, not the status directory), in a fixed order: the tables worth an
// OPTIMIZE after loading.
func (t TableNames) RowTables() []string {
	return []string{t.Issues, t.IssueMetrics, t.StatusIntervals, t.IssuesChangelog,
		t.Comments, t.Worklogs, t.Links, t.IssueSprints}
}
