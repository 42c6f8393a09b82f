package transformer

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func TestReplayAndRefreshOpen(t *testing.T) {
	t.Parallel()
	em, c := emulator(t, 60)
	srv, _ := streamtest.Start(t)
	conn, err := stream.ConnectInProcess(srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	open := 0
	r := rules(t, 9*time.Hour, 22*time.Hour)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, key := range em.IssueKeys() {
		snap := snapshot(t, em, c, key)
		res, err := Transform(snap, r, now)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Rows.Issue.IsClosed {
			open++
		}
		body, enc, err := wire.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: wire.RawSubject(snap.IssueID), Data: body, Header: nats.Header{}}
		msg.Header.Set(wire.EncodingHeader, enc)
		if _, err := conn.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if open == 0 || open == em.IssueCount() {
		t.Fatalf("%d of %d issues open: need both kinds", open, em.IssueCount())
	}
	tr, err := New(Config{}, Deps{JS: conn.JS, Rules: r, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rowsCount := func() uint64 {
		s, err := conn.JS.Stream(ctx, wire.RowsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	n, err := tr.Replay(ctx)
	if err != nil || n != em.IssueCount() {
		t.Fatalf("replay: %d, %v; want %d", n, err, em.IssueCount())
	}
	if got := rowsCount(); got != uint64(n) {
		t.Fatalf("rows stream holds %d messages after replaying %d", got, n)
	}
	now = now.Add(time.Hour)
	n, err = tr.RefreshOpen(ctx)
	if err != nil || n != open {
		t.Fatalf("refresh: %d, %v; want the %d open issues", n, err, open)
	}
	if got := rowsCount(); got != uint64(em.IssueCount()+open) {
		t.Fatalf("rows stream holds %d messages, want %d", got, em.IssueCount()+open)
	}
}
