// Package layout holds tests of the repository's layout rules (STYLE.md):
// it has no code of its own.
package layout

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/tracker-exporter/tracker-exporter/"

// root is the repository's root, from this package's folder.
var root = filepath.Join("..", "..")

// moduleDeps returns the packages of this module that the package pkg (a
// path relative to the module) depends on, directly or not, through its
// non-test files for this GOOS and GOARCH: the module's part of what go
// list -deps prints, read in process with go/build. Packages outside the
// module cannot import it back, so the walk stops at them.
func moduleDeps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	deps := map[string]bool{}
	var walk func(rel string)
	walk = func(rel string) {
		p, err := build.Default.ImportDir(filepath.Join(root, filepath.FromSlash(rel)), 0)
		if err != nil {
			t.Fatalf("import %s: %v", rel, err)
		}
		for _, imp := range p.Imports {
			if dep, ok := strings.CutPrefix(imp, module); ok && !deps[imp] {
				deps[imp] = true
				walk(dep)
			}
		}
	}
	walk(pkg)
	return deps
}

// Stages never import each other: data crosses a stage boundary only as
// pkg/wire types over NATS.
func TestStagesDoNotImportEachOther(t *testing.T) {
	stages := []string{"internal/extractor", "internal/transformer", "internal/loader"}
	for _, stage := range stages {
		deps := moduleDeps(t, stage)
		if !deps[module+"pkg/wire"] {
			t.Fatalf("%s does not depend on pkg/wire (dependencies %v): the walk did not run as meant", stage, deps)
		}
		for _, other := range stages {
			if other == stage {
				continue
			}
			for d := range deps {
				if d == module+other || strings.HasPrefix(d, module+other+"/") {
					t.Errorf("%s depends on %s: stages talk only through pkg/wire over NATS", stage, d)
				}
			}
		}
		// Nor through internal/app, which wires them all.
		if deps[module+"internal/app"] {
			t.Errorf("%s depends on internal/app", stage)
		}
	}
}

// No package is named after nothing in particular.
func TestNoGrabBagPackages(t *testing.T) {
	// The folders that ./... matches: those holding Go files, outside
	// testdata and the folders whose names start with "." or "_".
	pkgs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			pkgs[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !pkgs["pkg/wire"] || !pkgs["internal/layout"] {
		t.Fatalf("packages found %v: the walk did not run as meant", pkgs)
	}
	for p := range pkgs {
		switch name := p[strings.LastIndex(p, "/")+1:]; name {
		case "util", "utils", "common", "helpers", "models", "types", "misc":
			t.Errorf("package %s: name it after what it provides", module+p)
		}
	}
}
