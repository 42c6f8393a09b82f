package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// A component's field names its variable in an env tag (which Validate's
// problems are renamed with); the variable table must set that very field.
func TestFieldTagsNameTheVariablesThatSetThem(t *testing.T) {
	names := setting.Names(Config{}, "env")
	if len(names) == 0 {
		t.Fatal("no env tags found in Config")
	}
	known := map[string]bool{}
	for _, v := range Variables() {
		known[v.Name] = true
	}
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	def := reflect.ValueOf(Default())
	for path, name := range names {
		if !known[name] {
			t.Errorf("field %s is tagged %s, which is not a variable", path, name)
			continue
		}
		before := fieldAt(def, path)
		probe, ok := probes[name]
		switch {
		case ok:
		case before.Kind() == reflect.Bool:
			probe = strconv.FormatBool(!before.Bool())
		case before.Kind() == reflect.Int64: // time.Duration
			probe = "7s"
		case before.Kind() == reflect.Int || before.Kind() == reflect.Float64:
			probe = "7"
		case before.Kind() == reflect.String:
			probe = "probe"
		default:
			t.Errorf("field %s: kind %s has no probe value", path, before.Kind())
			continue
		}
		cfg, err := Load([]string{name + "=" + probe}, empty)
		if err != nil {
			t.Errorf("%s=%s: %v", name, probe, err)
			continue
		}
		if after := fieldAt(reflect.ValueOf(cfg), path); reflect.DeepEqual(after.Interface(), before.Interface()) {
			t.Errorf("%s=%s left field %s at %v: the tag and the variable table disagree", name, probe, path, before)
		}
	}
}

// probes are the values of variables whose field's kind says too little.
var probes = map[string]string{
	"EXPORTER_BUSINESS_TIMEZONE":               "Asia/Tokyo",
	"EXPORTER_WORKDAYS":                        "[5,6]",
	"EXPORTER_BUSINESS_HOURS_START":            "07:00:00",
	"EXPORTER_BUSINESS_HOURS_END":              "23:00:00",
	"EXPORTER_HOLIDAYS":                        "none",
	"EXPORTER_TRACKER__TIMEZONE":               "Asia/Tokyo",
	"EXPORTER_TRACKER__SEARCH__QUEUES":         "DEV,!TEST",
	"EXPORTER_MONITORING__METRICS_BASE_LABELS": "project:probe",
}

func fieldAt(v reflect.Value, path string) reflect.Value {
	for _, f := range strings.Split(path, ".") {
		v = v.FieldByName(f)
	}
	return v
}
