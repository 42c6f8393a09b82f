package ycf_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

const repoModule = "github.com/tracker-exporter/tracker-exporter"

// buildArchive runs build.sh with extra environment variables and returns
// the archive's files by name. It needs no network: every dependency comes
// from the module cache that building this package filled.
func buildArchive(t *testing.T, env ...string) (string, map[string][]byte) {
	t.Helper()
	testenv.Integration(t, "runs build.sh")
	if _, err := exec.LookPath("zip"); err != nil {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("build.sh needs zip or python3")
		}
	}
	out := filepath.Join(t.TempDir(), "function.zip")
	cmd := exec.Command("sh", "build.sh", out)
	cmd.Env = append(os.Environ(), append([]string{"GOPROXY=off", "GOFLAGS=-mod=readonly"}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh %v: %v\n%s", env, err, b)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	return out, files
}

// TestArchiveHasWhatTheRuntimeNeeds checks the archive against the Go
// runtime's documented rules: the handler in package main in the file the
// entry point names (index.Handler), exported, with an accepted signature;
// go.mod and go.sum at the root, no go line, a module not named main; and
// everything the root module needs inside the archive.
func TestArchiveHasWhatTheRuntimeNeeds(t *testing.T) {
	t.Parallel()
	_, files := buildArchive(t)

	src, ok := files["index.go"]
	if !ok {
		t.Fatal("no index.go at the archive's root (entry point index.Handler)")
	}
	f, err := parser.ParseFile(token.NewFileSet(), "index.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name.Name != "main" {
		t.Errorf("index.go is package %s, the runtime wants main", f.Name.Name)
	}
	if sig := handlerSignature(f); sig != "func(context.Context, []byte) (*ycf.Response, error)" {
		t.Errorf("index.go Handler: %q, want func(context.Context, []byte) (*ycf.Response, error)", sig)
	}

	gomod, ok := files["go.mod"]
	if !ok {
		t.Fatal("no go.mod at the archive's root")
	}
	if _, ok := files["go.sum"]; !ok {
		t.Error("no go.sum at the archive's root: the builder would take the latest versions")
	}
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	replaced := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "module main" || line == "module":
			t.Errorf("go.mod: %q: the runtime wants a module not named main", line)
		case strings.HasPrefix(line, "go ") || strings.HasPrefix(line, "toolchain "):
			t.Errorf("go.mod: %q: the runtime wants no Go version in go.mod", line)
		case line == "replace "+repoModule+" => ./tracker-exporter":
			replaced = true
		}
	}
	if !replaced {
		t.Errorf("go.mod does not replace %s with ./tracker-exporter:\n%s", repoModule, gomod)
	}
	for _, name := range []string{"tracker-exporter/go.mod", "tracker-exporter/go.sum", "tracker-exporter/deploy/ycf/handler.go", "tracker-exporter/internal/app/serverless.go"} {
		if _, ok := files[name]; !ok {
			t.Errorf("the archive lacks %s", name)
		}
	}
	// The embedded migrations travel with the package that embeds them.
	migrations, err := filepath.Glob(filepath.Join("..", "..", "migrations", "*.sql"))
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no migrations found in the repository (%v)", err)
	}
	for _, m := range migrations {
		if _, ok := files["tracker-exporter/migrations/"+filepath.Base(m)]; !ok {
			t.Errorf("the archive lacks the migration %s", filepath.Base(m))
		}
	}
	for name := range files {
		if strings.HasSuffix(name, "_test.go") {
			t.Errorf("the archive holds a test file: %s", name)
		}
	}
}

// TestArchiveBuilds compiles the archive's module as the runtime's builder
// does, from the module cache only. The builder adds its own go line to a
// go.mod that has none; the go command of this repository cannot read such
// a go.mod offline (it would fetch the go.mod of every module in the
// unpruned graph), so the archive built here keeps its go line. It takes
// some seconds.
func TestArchiveBuilds(t *testing.T) {
	t.Parallel()
	testenv.Integration(t, "compiles the whole archive")
	zipPath, _ := buildArchive(t, "KEEP_GO_LINE=1")
	dir := buildDir(t)
	unzip(t, zipPath, dir)
	cmd := exec.Command("go", "build", "-tags", "ycf", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the unpacked archive: %v\n%s", err, b)
	}
}

// buildDir returns an empty directory to unpack the archive into for
// building, the same on every run from this checkout: the go command keys
// the build cache of a package outside the module cache by its directory,
// so in a new directory each time every package of this repository would
// be compiled again; here only those whose files changed are. Nothing of a
// previous run is left in it (two runs at once from one checkout would
// share it: run one at a time).
func buildDir(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(base, "tracker-exporter-test", "ycf-archive-"+hex.EncodeToString(sum[:8]))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// handlerSignature returns the signature of index.go's Handler as source
// text, or "" when there is none or it is not exported at top level.
func handlerSignature(f *ast.File) string {
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Name.Name != "Handler" {
			continue
		}
		var b strings.Builder
		b.WriteString("func(")
		for i, p := range fn.Type.Params.List {
			for j := range max(1, len(p.Names)) {
				if i > 0 || j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(exprString(p.Type))
			}
		}
		b.WriteString(") (")
		for i, r := range fn.Type.Results.List {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(exprString(r.Type))
		}
		b.WriteString(")")
		return b.String()
	}
	return ""
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	case *ast.ArrayType:
		return "[]" + exprString(e.Elt)
	}
	return "?"
}

func unzip(t *testing.T, zipPath, dir string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(path, dir+string(os.PathSeparator)) {
			t.Fatalf("archive entry %q escapes the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
