package telemetry

import (
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Bar is a progress bar for long extraction passes on a terminal. Its
// methods are safe for concurrent use; a nil *Bar does nothing.
type Bar struct {
	mu   sync.Mutex
	out  *os.File
	p    *mpb.Progress
	bar  *mpb.Bar
	fail int
}

// TerminalBar returns a bar drawing on f when f is a terminal, else nil:
// off a terminal the periodic progress log lines are the progress report.
func TerminalBar(f *os.File) *Bar {
	if f == nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &Bar{out: f}
}

// Start begins a pass of total issues (total < 0: unknown yet).
func (b *Bar) Start(total int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		if total > 0 {
			b.bar.SetTotal(int64(total), false)
		}
		return
	}
	b.p = mpb.New(mpb.WithOutput(b.out), mpb.WithAutoRefresh())
	b.bar = b.p.AddBar(int64(max(total, 0)),
		mpb.PrependDecorators(decor.Name("issues "), decor.CountersNoUnit("%d / %d")),
		mpb.AppendDecorators(decor.AverageSpeed(0, " %.0f/s "), decor.AverageETA(decor.ET_STYLE_GO)),
	)
}

// Done counts one finished issue.
func (b *Bar) Done(ok bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Increment()
	}
}

// Finish ends the pass and removes nothing from the screen.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	bar, p := b.bar, b.p
	b.bar, b.p = nil, nil
	b.mu.Unlock()
	if bar == nil {
		return
	}
	bar.SetTotal(-1, true)
	p.Wait()
}
