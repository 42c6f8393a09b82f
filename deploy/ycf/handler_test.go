package ycf_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/deploy/ycf"
	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// timerEvent is the body a timer trigger sends (the documented example).
const timerEvent = `{
  "messages": [
    {
      "event_metadata": {
        "event_id": "a1s41g2n5g0o00000000",
        "event_type": "yandex.cloud.events.serverless.triggers.TimerMessage",
        "created_at": "2019-12-04T12:05:14.227761Z",
        "cloud_id": "b1gvlrnlei4l00000000",
        "folder_id": "b1g88tflru0e00000000"
      },
      "details": {
        "trigger_id": "a1sfe084v4se00000000",
        "payload": "payload-message"
      }
    }
  ]
}`

// functionEnv gives the test process the environment of a function
// version: no EXPORTER_ variable but those set, and a temporary folder of
// its own (os.TempDir reads TMPDIR), which it returns.
func functionEnv(t *testing.T, vars map[string]string) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(strings.ToUpper(name), "EXPORTER_") {
			t.Setenv(name, "") // restores the value at cleanup
			os.Unsetenv(name)
		}
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for k, v := range vars {
		t.Setenv(k, v)
	}
	return tmp
}

// invoke calls the handler as the runtime does: the invocation context
// (with the function's timeout as its deadline and the runtime's values)
// and the raw request body.
func invoke(t *testing.T, timeout time.Duration, body string) (*ycf.Response, error) {
	t.Helper()
	ctx := context.WithValue(context.Background(), "lambdaRuntimeRequestID", fmt.Sprintf("test-%d", rand.Uint32()))
	ctx = context.WithValue(ctx, "lambdaRuntimeMemoryLimit", 512)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return ycf.Handler(ctx, []byte(body))
}

func TestHandlerRefusesAnInvalidConfiguration(t *testing.T) {
	functionEnv(t, map[string]string{"EXPORTER_CLICKHOUSE__PROTO": "gopher"})
	resp, err := invoke(t, time.Minute, timerEvent)
	if !errors.Is(err, app.ErrConfig) {
		t.Fatalf("error %v, want one that wraps app.ErrConfig", err)
	}
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("response %+v, want status 400", resp)
	}
	for _, want := range []string{"EXPORTER_TRACKER__TOKEN", "EXPORTER_CLICKHOUSE__PROTO"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestHandlerRefusesAPassedDeadline(t *testing.T) {
	functionEnv(t, nil)
	resp, err := invoke(t, -time.Second, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("response %+v, error %v; want status 504 and an error", resp, err)
	}
}

// TestHandlerTimerInvocations invokes the handler twice as a timer trigger
// would, in stateful mode over the Tracker emulator and a real ClickHouse:
// the first pass loads every issue, the second the one touched since.
func TestHandlerTimerInvocations(t *testing.T) {
	chAddr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	em := trackertest.New(trackertest.Options{Issues: 200, Seed: 7})
	url := em.Start()
	t.Cleanup(em.Close)

	db := fmt.Sprintf("ycf_%d", rand.Uint32())
	host, port, _ := strings.Cut(chAddr, ":")
	statePath := filepath.Join(t.TempDir(), "state.json")
	tmp := functionEnv(t, map[string]string{
		"EXPORTER_TRACKER__API_URL":             url,
		"EXPORTER_TRACKER__TOKEN":               "ycf-secret-token",
		"EXPORTER_TRACKER__ORG_ID":              "42",
		"EXPORTER_TRACKER__RATE_LIMIT":          "0",
		"EXPORTER_STATEFUL":                     "true",
		"EXPORTER_STATEFUL_INITIAL_RANGE":       "200w", // further back than the emulator's history
		"EXPORTER_STATE__STORAGE":               "jsonfile",
		"EXPORTER_STATE__JSONFILE_STRATEGY":     "local", // s3 in a real deployment
		"EXPORTER_STATE__JSONFILE_PATH":         statePath,
		"EXPORTER_CLICKHOUSE__HOST":             host,
		"EXPORTER_CLICKHOUSE__PORT":             port,
		"EXPORTER_CLICKHOUSE__PROTO":            "native",
		"EXPORTER_CLICKHOUSE__DATABASE":         db,
		"EXPORTER_CLICKHOUSE__MIGRATE_ON_START": "true",
		"EXPORTER_CHANGELOG_EXPORT_ENABLED":     "true",
		"EXPORTER_LOG_FORMAT":                   "json",
	})
	ch := openClickHouse(t, chAddr, db)

	resp, err := invoke(t, 3*time.Minute, timerEvent)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first invocation: response %+v, error %v", resp, err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "tracker-exporter", "nats")); err != nil {
		t.Errorf("the embedded NATS store is not under the temporary folder: %v", err)
	}
	if _, err := os.Stat(statePath); err != nil {
		t.Fatalf("no watermark saved: %v", err)
	}
	keys := em.IssueKeys()
	got := issueCounts(t, ch, db)
	for _, k := range keys {
		if got[k] != 1 {
			t.Errorf("issue %s appears %d times in issues_view, want 1", k, got[k])
		}
	}
	if len(got) != len(keys) {
		t.Errorf("issues_view has %d issues, the emulator %d", len(got), len(keys))
	}

	// An issue updated after the first pass: the next timer tick loads it.
	key := keys[len(keys)/2]
	var last time.Time
	for _, k := range keys {
		if is, _ := em.Issue(k); is.UpdatedAt.After(last) {
			last = is.UpdatedAt
		}
	}
	at := last.Add(time.Minute).Truncate(time.Millisecond)
	if err := em.Touch(key, at); err != nil {
		t.Fatal(err)
	}
	resp, err = invoke(t, 3*time.Minute, timerEvent)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second invocation: response %+v, error %v", resp, err)
	}
	var version uint64
	var updated time.Time
	q := "SELECT _version, updated_at FROM `" + db + "`.issues_view WHERE issue_key = ?"
	if err := ch.Conn().QueryRow(context.Background(), q, key).Scan(&version, &updated); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if version != uint64(at.UnixMilli()) || !updated.Equal(at.Truncate(time.Second)) {
		t.Errorf("issue %s after the second invocation: _version %d, updated_at %s; want %d, %s",
			key, version, updated, at.UnixMilli(), at.Truncate(time.Second))
	}
	if got := issueCounts(t, ch, db); len(got) != len(keys) || got[key] != 1 {
		t.Errorf("after the second invocation issues_view has %d issues (want %d) and %s %d times (want 1)", len(got), len(keys), key, got[key])
	}
}

// openClickHouse connects to the test's database and drops it at cleanup.
func openClickHouse(t *testing.T, addr, db string) *clickhouse.Client {
	t.Helper()
	cfg := clickhouse.Default()
	cfg.Host, cfg.Port, cfg.Proto = addr, 9000, clickhouse.ProtoNative
	cfg.Database = db
	ch, err := clickhouse.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	t.Cleanup(func() {
		_ = ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
		_ = ch.Close()
	})
	return ch
}

// issueCounts returns how many rows issues_view holds per issue key.
func issueCounts(t *testing.T, ch *clickhouse.Client, db string) map[string]uint64 {
	t.Helper()
	rows, err := ch.Conn().Query(context.Background(), "SELECT issue_key, count() FROM `"+db+"`.issues_view GROUP BY issue_key")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
