package telemetry

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTerminalBarOnlyOnATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b := TerminalBar(f); b != nil {
		t.Fatal("a bar on a regular file: logs would fill with control sequences")
	}
	var nilBar *Bar
	nilBar.Start(3) // a nil bar does nothing
	nilBar.Done(true)
	nilBar.Finish()
}

func TestBarCountsIssues(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bar{out: f} // what TerminalBar returns on a terminal
	b.Start(-1)
	b.Start(50)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				b.Done(true)
			}
		}()
	}
	wg.Wait()
	b.Finish()
	f.Close()
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "issues 50 / 50") {
		t.Errorf("bar output lacks the final count:\n%q", out)
	}
}
