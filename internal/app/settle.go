package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/ledger"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// maxListed bounds the missing issues named in logs and reports.
const maxListed = 20

// settler is the extractor's Loads in the one-process form: after a pass
// it drains the pipeline, reconciles the pass with ClickHouse, re-drives
// from the raw stream what did not arrive (a snapshot JetStream dropped as
// a duplicate, rows a database never got), drains again and reports the
// account. The watermark then follows the account.
type settler struct {
	conn      *stream.Conn
	ch        *clickhouse.Client
	changelog bool
	log       *slog.Logger
	metrics   *telemetry.Metrics
	// stageErr reports a transformer or loader that stopped (set by RunAll).
	stageErr *stageWatch
	// last is the account of the latest pass.
	last *ledger.Account
}

var _ extractor.Loads = (*settler)(nil)

// Confirm reports which issues ClickHouse holds at their version.
func (s *settler) Confirm(ctx context.Context, issues []wire.PassIssue) ([]bool, error) {
	ids := make([]string, len(issues))
	for i := range issues {
		ids[i] = issues[i].ID
	}
	v, err := s.ch.IssueVersions(ctx, ids)
	if err != nil {
		return nil, err
	}
	ok := make([]bool, len(issues))
	for i := range issues {
		ok[i] = issues[i].Version > 0 && v[issues[i].ID] >= issues[i].Version
	}
	return ok, nil
}

// Settle drains, reconciles, re-drives the missing issues once and
// reconciles again. Its error names what is still missing and why.
func (s *settler) Settle(ctx context.Context, p *extractor.Pass) ([]bool, error) {
	if err := Drain(ctx, s.conn, s.log, s.stageErr); err != nil {
		return nil, fmt.Errorf("waiting for the pass to load: %w", err)
	}
	acct, err := reconcile(ctx, s.conn.JS, s.ch, p.Issues, s.changelog, nil, p.Started)
	if err != nil {
		return nil, err
	}
	if !acct.Complete() {
		redriven, err := redrive(ctx, s.conn.JS, p.ID, p.Issues, acct)
		if err != nil {
			return acct.OK(), err
		}
		if len(redriven) > 0 {
			s.log.Info("re-driving issues missing from ClickHouse from the raw stream", "issues", len(redriven))
			if err := Drain(ctx, s.conn, s.log, s.stageErr); err != nil {
				return acct.OK(), fmt.Errorf("waiting for the re-driven issues: %w", err)
			}
			if acct, err = reconcile(ctx, s.conn.JS, s.ch, p.Issues, s.changelog, redriven, p.Started); err != nil {
				return nil, err
			}
		}
	}
	s.last = &acct
	report(s.log, s.metrics, p.ID, p.Issues, acct)
	if !acct.Complete() {
		return acct.OK(), fmt.Errorf("%d of %d issues found are not in ClickHouse (%s)", acct.Missing, acct.Found, acct.ReasonText())
	}
	return acct.OK(), nil
}

// reconcile gathers ClickHouse's facts (and, for the missing issues, their
// dead letters since the pass started) and reconciles the pass with them.
func reconcile(ctx context.Context, js jetstream.JetStream, ch *clickhouse.Client, issues []wire.PassIssue, changelog bool, redriven map[string]bool, since time.Time) (ledger.Account, error) {
	ids := make([]string, len(issues))
	for i := range issues {
		ids[i] = issues[i].ID
	}
	versions, err := ch.IssueVersions(ctx, ids)
	if err != nil {
		return ledger.Account{}, fmt.Errorf("reconcile: %w", err)
	}
	facts := make(map[string]ledger.Fact, len(versions))
	for id, v := range versions {
		facts[id] = ledger.Fact{Version: v}
	}
	if changelog {
		rows, err := ch.ChangelogRows(ctx, ids)
		if err != nil {
			return ledger.Account{}, fmt.Errorf("reconcile: %w", err)
		}
		for id, f := range facts {
			f.ChangelogRows, f.ChangelogKnown = rows[id], true
			facts[id] = f
		}
	}
	in := ledger.Input{Issues: issues, Facts: facts, Changelog: changelog, Redriven: redriven}
	acct := ledger.Reconcile(in)
	if acct.Complete() {
		return acct, nil
	}
	// Name the dead letters of the missing issues (a bounded number of
	// lookups: one per stage and issue).
	in.DeadLetters = map[string]string{}
	looked := 0
	for i, st := range acct.Status {
		if st != ledger.Missing || !issues[i].Outcome.Stored() || looked >= 1000 {
			continue
		}
		looked++
		dead, err := stream.DeadLettersOf(ctx, js, issues[i].ID)
		if err != nil {
			return acct, fmt.Errorf("reconcile: %w", err)
		}
		for _, d := range dead {
			if !d.Time.Before(since) {
				in.DeadLetters[issues[i].ID] = deadLettered + d.Stage + ": " + d.Reason
			}
		}
	}
	return ledger.Reconcile(in), nil
}

// deadLettered starts the reason of an issue a stage dead-lettered.
const deadLettered = "dead-lettered by "

// redrive publishes again, from the raw stream, the stored issues that the
// account says are missing, except those a stage dead-lettered during the
// pass (the same rows would be refused again: `dlq retry` sends them back
// once the cause is fixed). It returns those it re-drove.
func redrive(ctx context.Context, js jetstream.JetStream, passID string, issues []wire.PassIssue, acct ledger.Account) (map[string]bool, error) {
	out := map[string]bool{}
	for i, st := range acct.Status {
		if st != ledger.Missing || !issues[i].Outcome.Stored() || strings.HasPrefix(acct.Why[i], deadLettered) {
			continue
		}
		ok, err := stream.Redrive(ctx, js, issues[i].ID, passID)
		if err != nil {
			return out, err
		}
		if ok {
			out[issues[i].ID] = true
		}
	}
	return out, nil
}

// report logs a pass's account (at error level, so Sentry hears of it,
// when something is missing) and sends its gauges.
func report(log *slog.Logger, metrics *telemetry.Metrics, passID string, issues []wire.PassIssue, acct ledger.Account) {
	metrics.Gauge("pass_issues_loaded", float64(acct.Loaded))
	metrics.Gauge("pass_issues_current", float64(acct.Current))
	metrics.Gauge("pass_issues_missing", float64(acct.Missing))
	dead := 0
	for reason, n := range acct.Reasons {
		metrics.Gauge("pass_issues_missing_by_reason", float64(n), "reason:"+reason)
		if strings.HasPrefix(reason, deadLettered) {
			dead += n
		}
	}
	metrics.Gauge("pass_issues_dead_lettered", float64(dead))
	if acct.Complete() {
		log.Info("pass reconciled with ClickHouse", "pass", passID, "found", acct.Found, "loaded", acct.Loaded, "already_current", acct.Current, "missing", 0)
		return
	}
	metrics.Count("issues_missing_count", int64(acct.Missing))
	listed := 0
	for i, st := range acct.Status {
		if st == ledger.Missing && listed < maxListed {
			listed++
			log.Warn("issue not in ClickHouse", "pass", passID, "issue", issues[i].Key, "id", issues[i].ID, "reason", acct.Why[i])
		}
	}
	log.Error("pass incomplete: issues found are not in ClickHouse", "pass", passID, "found", acct.Found, "loaded", acct.Loaded,
		"already_current", acct.Current, "missing", acct.Missing, "reasons", acct.ReasonText())
}
