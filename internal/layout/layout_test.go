// Package layout holds tests of the repository's layout rules (STYLE.md):
// it has no code of its own.
package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tracker-exporter/tracker-exporter/"

// Stages never import each other: data crosses a stage boundary only as
// pkg/wire types over NATS.
func TestStagesDoNotImportEachOther(t *testing.T) {
	stages := []string{"internal/extractor", "internal/transformer", "internal/loader"}
	for _, stage := range stages {
		out, err := exec.Command("go", "list", "-deps", "../../"+stage).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", stage, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed %d packages: the command did not run as meant", stage, len(deps))
		}
		for _, other := range stages {
			if other == stage {
				continue
			}
			for _, d := range deps {
				if d == module+other || strings.HasPrefix(d, module+other+"/") {
					t.Errorf("%s depends on %s: stages talk only through pkg/wire over NATS", stage, d)
				}
			}
			// Nor through internal/app, which wires them all.
		}
		for _, d := range deps {
			if d == module+"internal/app" {
				t.Errorf("%s depends on internal/app", stage)
			}
		}
	}
}

// No package is named after nothing in particular.
func TestNoGrabBagPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "../../...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		name := p[strings.LastIndex(p, "/")+1:]
		switch name {
		case "util", "utils", "common", "helpers", "models", "types", "misc":
			t.Errorf("package %s: name it after what it provides", p)
		}
	}
}
