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
	// Every function of the tree, tests aside.
	for _, s := range over {
		rel, _ := filepath.Rel(root, s.Pos.Filename)
		t.Errorf("%s:%d: %s has cognitive complexity %d, above %d: split it", rel, s.Pos.Line, s.FuncName, s.Complexity, maxComplexity)
	}
}
