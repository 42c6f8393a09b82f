package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/ledger"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// VerifyOptions select the pass to verify and what to do about it.
type VerifyOptions struct {
	// PassID selects a pass; empty is the latest of the state key.
	PassID string
	// Redrive publishes the missing issues again from the raw stream and
	// waits for them to load before the final account.
	Redrive bool
}

// Verify reconciles an extraction pass's manifest with ClickHouse: every
// issue the pass found must be in the issues table at the version found or
// newer (and, with changelog export, have its changelog rows). It prints
// the account and the missing issues with their reasons, and returns an
// error when any is missing. It works in both forms: against the
// configured NATS server, or the embedded one's data directory when the
// one-process form is not running.
func Verify(ctx context.Context, cfg config.Config, o VerifyOptions, out io.Writer) error {
	return runStage(ctx, cfg, "tracker-exporter-verify", natsEmbedded, func(env *Env, conn *stream.Conn) error {
		return verify(ctx, env, conn, o, out)
	})
}

func verify(ctx context.Context, env *Env, conn *stream.Conn, o VerifyOptions, out io.Writer) error {
	cfg := env.Config
	ch, err := OpenClickHouse(ctx, env, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	sum, issues, err := stream.LoadPass(ctx, conn.JS, cfg.Extractor.StateKey, o.PassID)
	if err != nil {
		return err
	}
	acct, err := reconcile(ctx, conn.JS, ch, issues, cfg.ChangelogExportEnabled, nil, sum.StartedAt)
	if err != nil {
		return err
	}
	if !acct.Complete() && o.Redrive {
		redriven, err := redrive(ctx, conn.JS, sum.PassID+"-verify-"+time.Now().UTC().Format("20060102T150405"), issues, acct)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "re-drove %d missing issues from the raw stream; waiting for them to load\n", len(redriven))
		if err := withStages(ctx, env, conn, cfg.NATS.URL == "", func(w *stageWatch) error {
			return Drain(ctx, conn, env.Log, w)
		}); err != nil {
			return err
		}
		if acct, err = reconcile(ctx, conn.JS, ch, issues, cfg.ChangelogExportEnabled, redriven, sum.StartedAt); err != nil {
			return err
		}
	}
	printAccount(out, sum.PassID, sum.Query, sum.StartedAt, sum.SearchTotals, sum.SearchError, issues, acct)
	if !acct.Complete() {
		return fmt.Errorf("pass %s: %d of %d issues are not in ClickHouse (%s)", sum.PassID, acct.Missing, acct.Found, acct.ReasonText())
	}
	if sum.SearchError != "" {
		return fmt.Errorf("pass %s: its search did not return every issue: %s", sum.PassID, sum.SearchError)
	}
	return nil
}

// withStages runs fn while, when embedded, the transformer and the loader
// run in this process (nothing else would process what fn waits for).
func withStages(ctx context.Context, env *Env, conn *stream.Conn, embedded bool, fn func(*stageWatch) error) error {
	if !embedded {
		return fn(newStageWatch())
	}
	tr, err := NewTransformer(env, conn.JS)
	if err != nil {
		return err
	}
	ld, closeLd, err := NewLoader(ctx, env, conn.JS)
	if err != nil {
		return err
	}
	defer closeLd()
	return whileRunning(ctx, []func(context.Context) error{tr.Run, ld.Run}, fn)
}

// whileRunning runs the stages in the background (under a context that
// outlives ctx until fn returns), runs fn with a watch that reports the
// first stage that fails, then stops the stages and waits for them.
func whileRunning(ctx context.Context, stages []func(context.Context) error, fn func(*stageWatch) error) error {
	w := newStageWatch()
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, run := range stages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(bg); err != nil {
				w.fail(err)
			}
		}()
	}
	err := fn(w)
	cancel()
	wg.Wait()
	return err
}

// printAccount writes a pass's account for a person: the pass, the
// search, the counts, then the missing issues with their reasons.
func printAccount(out io.Writer, passID, query string, started time.Time, totals []int, searchErr string, issues []wire.PassIssue, acct ledger.Account) {
	fmt.Fprintf(out, "pass %s started %s\nquery %s\n", passID, started.UTC().Format(time.RFC3339), query)
	if len(totals) > 0 {
		t := make([]string, len(totals))
		for i, n := range totals {
			t[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(out, "search: Tracker counted %s (per attempt)\n", strings.Join(t, ", "))
	}
	if searchErr != "" {
		fmt.Fprintf(out, "search incomplete: %s\n", searchErr)
	}
	fmt.Fprintf(out, "found %d: in ClickHouse %d (loaded %d, already current %d), missing %d\n",
		acct.Found, acct.Loaded+acct.Current, acct.Loaded, acct.Current, acct.Missing)
	if acct.Complete() {
		return
	}
	fmt.Fprintf(out, "missing by reason: %s\n", acct.ReasonText())
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "issue\tid\tversion\treason")
	listed := 0
	for i, st := range acct.Status {
		if st != ledger.Missing {
			continue
		}
		if listed == maxListed {
			fmt.Fprintf(tw, "… and %d more\t\t\t\n", acct.Missing-listed)
			break
		}
		listed++
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", issues[i].Key, issues[i].ID, issues[i].Version, acct.Why[i])
	}
	tw.Flush()
}

// DeadLetterOptions select what the dlq subcommand does.
type DeadLetterOptions struct {
	// Stage limits it to "transformer" or "loader" ("": both).
	Stage string
	// Retry sends the dead letters back to be processed again.
	Retry bool
}

// DeadLetters lists the dead letters (stage, time, original subject,
// reason) or, with Retry, sends them back: a dead snapshot is re-driven
// from the raw stream, dead rows are published again; each is removed from
// the dead-letter stream once sent. The stages process them when they run.
func DeadLetters(ctx context.Context, cfg config.Config, o DeadLetterOptions, out io.Writer) error {
	if o.Stage != "" && o.Stage != "transformer" && o.Stage != "loader" {
		return ConfigExit(fmt.Errorf("--stage %q: want transformer or loader", o.Stage))
	}
	return runStage(ctx, cfg, "tracker-exporter-dlq", natsEmbedded, func(env *Env, conn *stream.Conn) error {
		return deadLetters(ctx, env, conn, o, out)
	})
}

func deadLetters(ctx context.Context, env *Env, conn *stream.Conn, o DeadLetterOptions, out io.Writer) error {
	if o.Retry {
		n, err := stream.RetryDeadLetters(ctx, conn.JS, o.Stage, time.Now().UTC().Format("20060102T150405.000"))
		fmt.Fprintf(out, "sent %d dead letters back to be processed again\n", n)
		if err != nil {
			return err
		}
		env.Log.Info("dead letters sent back", "count", n, "stage", o.Stage)
		return nil
	}
	dead, err := stream.ListDeadLetters(ctx, conn.JS, o.Stage)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "seq\tstage\ttime\tsubject\treason")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Stage, d.Time.UTC().Format(time.RFC3339), d.Original, d.Reason)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d dead letters\n", len(dead))
	return nil
}
