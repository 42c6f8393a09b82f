package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// envReaders are the only folders whose code reads the process
// environment: pkg/config maps every variable onto the components'
// configuration (STYLE.md: each setting has one home), and pkg/testenv
// reads the test services' addresses.
var envReaders = []string{"pkg/config", "pkg/testenv"}

// The environment is read in pkg/config only: a component that read a
// variable itself would have a setting that is not validated at start,
// not documented in docs/configuration.md and not settable by a flag.
func TestEnvironmentReadOnlyByConfig(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
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
		rel, _ := filepath.Rel(root, path)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		if readsEnvAllowed(rel) {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "os" || pkg.Name == "syscall") {
				switch sel.Sel.Name {
				case "Getenv", "LookupEnv", "Environ":
					t.Errorf("%s: %s.%s: read the environment through pkg/config (a setting with a variable, a flag and a check at start)",
						fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 80 {
		t.Fatalf("only %d files read: the walk missed the tree", files)
	}
}

func readsEnvAllowed(rel string) bool {
	rel = filepath.ToSlash(rel)
	for _, dir := range envReaders {
		if strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	return false
}
