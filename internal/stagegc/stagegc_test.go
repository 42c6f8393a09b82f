package stagegc

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	defer Restore()

	Restore()
	if !Apply() {
		t.Fatal("Apply did nothing under Go's defaults")
	}
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
		t.Errorf("memory limit %d, want %d", got, MemoryLimit)
	}
	if got := debug.SetGCPercent(GCPercent); got != GCPercent {
		t.Errorf("GOGC %d, want %d", got, GCPercent)
	}

	// An operator's GOMEMLIMIT: nothing is changed, GOGC included.
	Restore()
	debug.SetMemoryLimit(1 << 30)
	debug.SetGCPercent(150)
	if Apply() {
		t.Error("Apply overrode a memory limit already set")
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d, want the operator's", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GOGC %d, want the operator's 150", got)
	}

	// An operator's GOGC other than 100 without a limit: the limit is set,
	// their GOGC kept.
	Restore()
	debug.SetGCPercent(50)
	Apply()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GOGC %d, want the operator's 50", got)
	}
}
