package clickhouse

// AnalyticViews names the analytic views that the migrations create over
// the deduplicated *_view views. Every name starts with the issues table's
// name, so that several sets of tables can share one database.
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
}

// AnalyticViews returns the names of the analytic views of these tables.
func (t TableNames) AnalyticViews() AnalyticViews {
	return AnalyticViews{
		FlowTimesMonthly: t.Issues + "_flow_times_monthly",
		ThroughputWeekly: t.Issues + "_throughput_weekly",
		WIP:              t.Issues + "_wip",
		WIPAgeing:        t.Issues + "_wip_ageing",
		CFDDaily:         t.Issues + "_cfd_daily",
	}
}

// List returns the view names in a fixed order.
func (v AnalyticViews) List() []string {
	return []string{v.FlowTimesMonthly, v.ThroughputWeekly, v.WIP, v.WIPAgeing, v.CFDDaily}
}

// RowTables returns the tables that InsertRows writes (the issue-derived
// ones, not the status directory), in a fixed order: the tables worth an
// OPTIMIZE after loading.
func (t TableNames) RowTables() []string {
	return []string{t.Issues, t.IssueMetrics, t.StatusIntervals, t.IssuesChangelog}
}
