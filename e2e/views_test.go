package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// viewTotals is what a dashboard reads: rows of every view, and issues
// shown without their derived rows.
type viewTotals struct {
	issues, metrics, intervals, changelog, bare uint64
	comments, worklogs, links, sprints, mixed   uint64
}

func (f *fixture) viewTotals(ctx context.Context) (viewTotals, error) {
	var v viewTotals
	db := "`" + f.db + "`."
	err := f.ch.Conn().QueryRow(ctx, "SELECT "+
		"(SELECT count() FROM "+db+"issues_view), "+
		"(SELECT count() FROM "+db+"issue_metrics_view), "+
		"(SELECT count() FROM "+db+"issue_status_intervals_view), "+
		"(SELECT count() FROM "+db+"issues_changelog_view), "+
		"(SELECT count() FROM "+db+"issue_comments_view), "+
		"(SELECT count() FROM "+db+"issue_worklogs_view), "+
		"(SELECT count() FROM "+db+"issue_links_view), "+
		"(SELECT count() FROM "+db+"issue_sprints_view)").Scan(&v.issues, &v.metrics, &v.intervals, &v.changelog,
		&v.comments, &v.worklogs, &v.links, &v.sprints)
	if err != nil {
		return v, err
	}
	// Issues whose derived rows in the views come from another transform
	// than the issue row's (a mix of the previous and the new state).
	err = f.ch.Conn().QueryRow(ctx, "SELECT count() FROM (SELECT issue_id, _generation, _transformed_at FROM "+db+"issue_metrics_view "+
		"UNION ALL SELECT issue_id, _generation, _transformed_at FROM "+db+"issues_changelog_view "+
		"UNION ALL SELECT issue_id, _generation, _transformed_at FROM "+db+"issue_worklogs_view) "+
		"WHERE (issue_id, _generation, _transformed_at) NOT IN (SELECT issue_id, _generation, _transformed_at FROM "+db+"issues_view)").Scan(&v.mixed)
	if err != nil {
		return v, err
	}
	// Issues the views show without status metrics or visits (every issue
	// has at least one of each).
	err = f.ch.Conn().QueryRow(ctx, "SELECT count() FROM "+db+"issues_view WHERE issue_id NOT IN (SELECT issue_id FROM "+db+
		"issue_metrics_view) OR issue_id NOT IN (SELECT issue_id FROM "+db+"issue_status_intervals_view)").Scan(&v.bare)
	return v, err
}

// issuesStamp identifies the issue rows issues_view shows (the slots the
// derived views follow): equal before and after a poll, no issue row
// changed during it.
func (f *fixture) issuesStamp(ctx context.Context) (stamp [2]uint64, err error) {
	err = f.ch.Conn().QueryRow(ctx, "SELECT count(), sum(cityHash64(issue_id, _generation, _transformed_at)) FROM `"+f.db+"`.issues_view").
		Scan(&stamp[0], &stamp[1])
	return stamp, err
}

// TestViewsNeverShowAPartialIssue: a reader polling every view while the
// rows of every issue are replaced (a replay, the refresh of open issues
// by the interval process) always sees each issue whole, in its previous
// state or its new one: the totals never move.
func TestViewsNeverShowAPartialIssue(t *testing.T) {
	f := newFixture(t, 1000)
	f.oneProcess()
	f.set("EXPORTER_COMMENTS_EXPORT_ENABLED", "true")
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("load: exit %d:\n%s", code, out)
	}
	ctx := context.Background()
	want, err := f.viewTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want.issues != 1001 || want.bare != 0 || want.mixed != 0 || want.comments == 0 || want.worklogs == 0 || want.links == 0 || want.sprints == 0 {
		t.Fatalf("after the load: %+v", want)
	}
	poll := func(name string, work func() error) {
		var polls, bad, straddled atomic.Int64
		var first atomic.Value
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				before, err := f.issuesStamp(ctx)
				if err != nil {
					t.Errorf("%s: poll: %v", name, err)
					return
				}
				got, err := f.viewTotals(ctx)
				if err != nil {
					t.Errorf("%s: poll: %v", name, err)
					return
				}
				after, err := f.issuesStamp(ctx)
				if err != nil {
					t.Errorf("%s: poll: %v", name, err)
					return
				}
				polls.Add(1)
				if before != after {
					// An INSERT into the issues table ended during the
					// poll: its subqueries read the issue rows at
					// different moments (ClickHouse has no snapshot
					// across them), so their totals cannot be compared.
					straddled.Add(1)
					continue
				}
				if got != want {
					bad.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("%+v", got))
				}
			}
		}()
		err := work()
		close(stop)
		<-done
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bad.Load() > 0 {
			t.Errorf("%s: %d of %d polls saw holes or mixes: first %v, want %+v", name, bad.Load(), polls.Load(), first.Load(), want)
		}
		judged := polls.Load() - straddled.Load()
		t.Logf("%s: %d polls, %d of them across the end of an issues INSERT (not judged)", name, polls.Load(), straddled.Load())
		if polls.Load() < 5 || judged < 3 {
			t.Errorf("%s: only %d polls, %d judged: the reader did not watch the load", name, polls.Load(), judged)
		}
	}
	replay := func() error {
		cmd := exec.Command(filepath.Join(binaries(t), "tracker-exporter"), "replay")
		cmd.Env = f.env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("replay: %v\n%s", err, out)
		}
		return nil
	}
	generations := func() (n uint64) {
		_ = f.ch.Conn().QueryRow(ctx, "SELECT uniqExact(_generation) FROM `"+f.db+"`.issues_view").Scan(&n)
		return n
	}
	poll("replay", replay)
	// A replay under other business hours: every issue's rows change (a
	// new generation); a reader sees each issue in the old one or the new.
	f.set("EXPORTER_BUSINESS_HOURS_START", "10:00:00")
	poll("replay into a new generation", replay)
	if n := generations(); n != 1 {
		t.Errorf("after the replay the views show %d generations, want 1 (the new one)", n)
	}
	// The interval process refreshes every open issue after each pass.
	f.set("EXPORTER_ETL_INTERVAL_MINUTES", "60")
	var before time.Time
	if err := f.ch.Conn().QueryRow(ctx, "SELECT max(_transformed_at) FROM `"+f.db+"`.issues").Scan(&before); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // _transformed_at has whole seconds
	poll("pass and refresh of open issues", func() error {
		stop := f.start("tracker-exporter")
		deadline := time.Now().Add(60 * time.Second)
		for {
			var n uint64
			_ = f.ch.Conn().QueryRow(ctx, "SELECT count() FROM `"+f.db+"`.issues WHERE _transformed_at > toDateTime(?)", before.Unix()).Scan(&n)
			// Refreshed: newer rows for the open issues, then a quiet second.
			if n > 0 {
				time.Sleep(2 * time.Second)
				t.Logf("refresh: %d issue rows newer than the replay's", n)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no refresh within 60s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if code, out := stop(); code != 0 {
			return fmt.Errorf("tracker-exporter: exit %d\n%s", code, out)
		}
		return nil
	})
}
