package e2e

import (
	"context"
	"strings"
	"testing"
)

// TestReplayWithNewBusinessHours loads once, then replays the raw stream
// with other business hours: busdays figures change, nothing else does,
// no stale row remains and Tracker is not called.
func TestReplayWithNewBusinessHours(t *testing.T) {
	f := newFixture(t, 200)
	for i, kv := range f.env {
		if strings.HasPrefix(kv, "EXPORTER_NATS__URL=") {
			f.env[i] = "EXPORTER_NATS__URL="
		}
	}
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run-once exit %d:\n%s", code, out)
	}
	f.waitLoaded(5 * 1e9)
	busdays := func() int64 {
		var n int64
		err := f.ch.Conn().QueryRow(context.Background(),
			"SELECT toInt64(busdays_duration) FROM `"+f.db+"`.issue_metrics_view WHERE issue_key = 'METRICS-1' AND status_key = 'inProgress'").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := busdays(); got != 82800 {
		t.Fatalf("inProgress business seconds %d, want 82800 (09:00–22:00)", got)
	}
	counts := func() [4]uint64 {
		var c [4]uint64
		for i, v := range []string{"issues_view", "issue_metrics_view", "issue_status_intervals_view", "issues_changelog_view"} {
			c[i] = f.count("SELECT count() FROM `" + f.db + "`." + v)
		}
		return c
	}
	before := counts()
	requests := f.em.TotalRequests()

	f.env = append(f.env, "EXPORTER_BUSINESS_HOURS_START=10:00:00", "EXPORTER_BUSINESS_HOURS_END=18:00:00")
	if code, out := f.run("tracker-exporter", "replay"); code != 0 {
		t.Fatalf("replay exit %d:\n%s", code, out)
	}
	if n := f.em.TotalRequests() - requests; n != 0 {
		t.Errorf("replay made %d Tracker requests, want 0", n)
	}
	// inProgress visits (Moscow time): Mon 12:00–Tue 12:00 and Tue 16:00–Wed 13:00;
	// 10:00–18:00 gives 6+2 and 2+3 hours = 13 h.
	if got := busdays(); got != 13*3600 {
		t.Errorf("after replay inProgress business seconds %d, want %d", got, 13*3600)
	}
	if after := counts(); after != before {
		t.Errorf("row counts changed by replay: before %v after %v", before, after)
	}
	// Every derived row in the views belongs to the newest generation.
	var gens uint64
	if err := f.ch.Conn().QueryRow(context.Background(),
		"SELECT uniqExact(_generation) FROM `"+f.db+"`.issue_metrics_view").Scan(&gens); err != nil {
		t.Fatal(err)
	}
	if gens != 1 {
		t.Errorf("issue_metrics_view mixes %d transform generations", gens)
	}
}

// A replay whose rows the loader dead-letters does not exit 0: it says
// how many, and where they are (`tracker-exporter dlq list`).
func TestReplayWithDeadLettersFails(t *testing.T) {
	f := newFixture(t, 100)
	f.oneProcess()
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run-once exit %d:\n%s", code, out)
	}
	// A column the loader writes is gone: every issues insert is rejected,
	// and each message is dead-lettered at its first delivery.
	f.exec("ALTER TABLE `" + f.db + "`.issues DROP COLUMN anomalies")
	f.set("EXPORTER_CLICKHOUSE__MAX_DELIVERIES", "1")
	code, out := f.run("tracker-exporter", "replay")
	if code == 0 {
		t.Fatalf("replay exit 0 although no rows loaded:\n%s", out)
	}
	if !strings.Contains(out, "dead-lettered") || !strings.Contains(out, "dlq list") {
		t.Errorf("the replay's output does not say what was dead-lettered, nor where:\n%s", out)
	}
	f.exec("ALTER TABLE `" + f.db + "`.issues ADD COLUMN anomalies UInt32")
	if code, out := f.run("tracker-exporter", "dlq", "list"); code != 0 || !strings.Contains(out, "101 dead letters") {
		t.Errorf("dlq list: exit %d:\n%s", code, out)
	}
}
