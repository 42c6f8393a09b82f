package layout

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/uudashr/gocognit"
)

// maxComplexity is the most cognitive complexity a function may have.
const maxComplexity = 20

// enforced are the folders where every function must stay under
// maxComplexity; the rest of the tree is reported until it is brought
// under too (pkg/config, pkg/tracker and its emulator, pkg/clickhouse,
// pkg/flow, pkg/calendar and pkg/state have functions above it).
var enforced = []string{"internal", "cmd", "deploy", "pkg/stream", "pkg/ledger", "pkg/wire", "pkg/telemetry", "pkg/tracker/trackertest/internal/query"}

func TestCognitiveComplexity(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var over []gocognit.Stat
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		files++
		for _, s := range gocognit.ComplexityStats(f, fset, nil) {
			if s.Complexity > maxComplexity {
				over = append(over, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 80 {
		t.Fatalf("only %d files read: the walk missed the tree", files)
	}
	sort.Slice(over, func(i, j int) bool { return over[i].Complexity > over[j].Complexity })
	reported := 0
	for _, s := range over {
		rel, _ := filepath.Rel(root, s.Pos.Filename)
		if isEnforced(rel) {
			t.Errorf("%s:%d: %s has cognitive complexity %d, above %d: split it", rel, s.Pos.Line, s.FuncName, s.Complexity, maxComplexity)
		} else {
			reported++
		}
	}
	t.Logf("%d functions above %d outside the enforced folders (to bring under)", reported, maxComplexity)
}

func isEnforced(rel string) bool {
	for _, dir := range enforced {
		if rel == dir || strings.HasPrefix(rel, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
