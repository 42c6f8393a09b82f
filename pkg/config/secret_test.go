package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// secretConfig sets every secret of a Config to a distinct recognisable value.
func secretConfig() (Config, []string) {
	c := Default()
	vals := []string{"tok-AAA111", "iam-BBB222", "pw-CCC333", "redis://u:dsn-DDD444@h:6379", "ak-EEE555", "sk-FFF666", "params-GGG777", "https://key-HHH888@sentry.io/1"}
	c.Tracker.Token = setting.Secret(vals[0])
	c.Tracker.IAMToken = setting.Secret(vals[1])
	c.ClickHouse.Password = setting.Secret(vals[2])
	c.State.RedisDSN = setting.Secret(vals[3])
	c.State.S3AccessKey = setting.Secret(vals[4])
	c.State.S3SecretKey = setting.Secret(vals[5])
	c.State.CustomStorageParams = setting.Secret(vals[6])
	c.Monitoring.Sentry.DSN = setting.Secret(vals[7])
	c.NATS.URL = "nats://user:natspw-III999@host:4222"
	return c, vals
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	c, vals := secretConfig()
	var jsonBuf, textBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonBuf, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&textBuf, nil)).Info("start", slog.Any("config", c), slog.Any("token", c.Tracker.Token))
	jsonCfg, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"Sprint":    fmt.Sprint(c),
		"%+v":       fmt.Sprintf("%+v", c),
		"%#v":       fmt.Sprintf("%#v", c),
		"%v ptr":    fmt.Sprintf("%v", &c),
		"slog json": jsonBuf.String(),
		"slog text": textBuf.String(),
		"json":      string(jsonCfg),
	}
	for name, out := range outputs {
		for _, v := range vals {
			if strings.Contains(out, v) {
				t.Errorf("%s reveals %q:\n%s", name, v, out)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s has no REDACTED:\n%s", name, out)
		}
	}
	// The summary strips NATS credentials too.
	for _, name := range []string{"slog json", "slog text"} {
		if strings.Contains(outputs[name], "natspw-III999") {
			t.Errorf("%s reveals the NATS password:\n%s", name, outputs[name])
		}
	}
	var decoded map[string]any
	if err := json.Unmarshal(jsonBuf.Bytes(), &decoded); err != nil {
		t.Fatalf("slog JSON output does not parse: %v", err)
	}
	tracker := decoded["config"].(map[string]any)["tracker"].(map[string]any)
	if tracker["token"] != "REDACTED" || tracker["timeout"] != "10s" {
		t.Errorf("summary tracker = %v, want token REDACTED and timeout 10s", tracker)
	}
}
