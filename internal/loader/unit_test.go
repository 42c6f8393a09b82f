package loader

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// discardSink accepts everything; New needs a sink.
type discardSink struct{}

func (discardSink) InsertRows(context.Context, []*wire.IssueRows) error        { return nil }
func (discardSink) InsertDirectory(context.Context, *wire.DirectoryRows) error { return nil }

// noJS is a non-nil JetStream for New, which does no I/O.
type noJS struct{ jetstream.JetStream }

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want []string
	}{
		{"no deps", Config{}, Deps{}, []string{"no JetStream", "no sink"}},
		{"negative", Config{Config: loadercfg.Config{BatchRows: -1}, AckWait: -time.Second}, Deps{JS: noJS{}, Sink: discardSink{}}, []string{`BatchRows="-1": want 1..10000000`, "AckWait is negative"}},
		{"factor below 1", Config{Config: loadercfg.Config{Backoff: loadercfg.Backoff{ExpoFactor: 0.5}}}, Deps{JS: noJS{}, Sink: discardSink{}}, []string{`Backoff.ExpoFactor="0.5": want 1..100`}},
		{"table without name", Config{Tables: wire.Tables{Issues: "i"}}, Deps{JS: noJS{}, Sink: discardSink{}}, []string{"table IssueMetrics has no name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, tt.deps)
			if err == nil {
				t.Fatalf("New(%+v) = nil error, want %q", tt.cfg, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%+v) = %q, want it to contain %q", tt.cfg, err, w)
				}
			}
		})
	}
	l, err := New(Config{Config: loadercfg.Config{BatchAge: 8 * time.Second}}, Deps{JS: noJS{}, Sink: discardSink{}})
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.BatchRows != 10000 || l.cfg.AckWait != 8*time.Second || l.cfg.MaxDeliveries != 5 || l.cfg.Tables != wire.DefaultTables() || l.cfg.OptimizeEvery != 30*time.Minute {
		t.Errorf("defaults: %+v", l.cfg)
	}
}

func TestChunks(t *testing.T) {
	// Items given as rows/bytes pairs.
	tests := []struct {
		name            string
		batchRows       int
		batchBytes      int
		items           [][2]int
		want            string // chunk sizes
		maxRows, maxLen int
	}{
		{"one chunk", 100, 0, [][2]int{{10, 100}, {10, 100}, {10, 100}}, "[3]", 100, 0},
		{"by rows", 25, 0, [][2]int{{10, 1}, {10, 1}, {10, 1}, {10, 1}, {10, 1}}, "[2 2 1]", 25, 0},
		{"rows exactly", 20, 0, [][2]int{{10, 1}, {10, 1}, {10, 1}}, "[2 1]", 20, 0},
		{"by bytes", 1000, 250, [][2]int{{1, 100}, {1, 100}, {1, 100}, {1, 100}, {1, 100}}, "[2 2 1]", 1000, 250},
		{"big message alone", 1000, 250, [][2]int{{1, 100}, {1, 900}, {1, 100}}, "[1 1 1]", 1000, 0},
		{"big rows alone", 10, 0, [][2]int{{3, 1}, {50, 1}, {3, 1}, {3, 1}}, "[1 1 2]", 0, 0},
		{"bytes and rows", 30, 300, [][2]int{{10, 200}, {10, 50}, {10, 50}, {10, 10}, {10, 10}}, "[3 2]", 30, 300},
		{"bytes first", 100, 300, [][2]int{{10, 200}, {10, 150}, {10, 50}}, "[1 2]", 100, 300},
		{"empty", 10, 10, nil, "[]", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loader{cfg: Config{Config: loadercfg.Config{BatchRows: tt.batchRows, BatchBytes: tt.batchBytes}}}
			var items []*item
			for _, rb := range tt.items {
				items = append(items, &item{nrows: rb[0], size: rb[1]})
			}
			chunks := l.chunks(items)
			var sizes []int
			n := 0
			for _, c := range chunks {
				sizes = append(sizes, len(c))
				rows, bytes := 0, 0
				for _, it := range c {
					if it != items[n] {
						t.Fatalf("item %d out of order", n)
					}
					n++
					rows += it.nrows
					bytes += it.size
				}
				if len(c) > 1 && ((tt.maxRows > 0 && rows > tt.maxRows) || (tt.maxLen > 0 && bytes > tt.maxLen)) {
					t.Errorf("chunk of %d items has %d rows, %d bytes: over %d/%d", len(c), rows, bytes, tt.maxRows, tt.maxLen)
				}
			}
			if got := fmt.Sprint(sizes); got != tt.want && !(got == "[]" && tt.want == "[]") {
				t.Errorf("chunks(%v) sizes = %s, want %s", tt.items, got, tt.want)
			}
			if n != len(items) {
				t.Errorf("chunks lost items: %d of %d", n, len(items))
			}
		})
	}
}

// TestFetchMax: about one insert batch's worth of messages, never more
// messages than rows, within [minFetch, maxFetch] otherwise.
func TestFetchMax(t *testing.T) {
	for _, tt := range []struct{ rows, want int }{
		{1, 1}, {10, 10}, {300, 300}, {5000, 300}, {10000, 312}, {100000, 3125}, {1000000, 5000},
	} {
		l := &Loader{cfg: Config{Config: loadercfg.Config{BatchRows: tt.rows}}}
		if got := l.fetchMax(); got != tt.want {
			t.Errorf("BatchRows %d: fetchMax %d, want %d", tt.rows, got, tt.want)
		}
	}
}

func TestRedeliveryDelay(t *testing.T) {
	l, err := New(Config{Config: loadercfg.Config{Backoff: loadercfg.Backoff{BaseDelay: 100 * time.Millisecond, ExpoFactor: 2}}, RedeliveryDelayMax: 3 * time.Second}, Deps{JS: noJS{}, Sink: discardSink{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		n    uint64
		want time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {5, 3 * time.Second}, {1000, 3 * time.Second}} {
		if got := l.redeliveryDelay(tt.n); got != tt.want {
			t.Errorf("redeliveryDelay(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}
