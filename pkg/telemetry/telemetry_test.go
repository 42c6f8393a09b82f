package telemetry

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readDatagrams collects the statsd lines received on conn until want
// lines arrived or a second passed without any.
func readDatagrams(t *testing.T, conn net.PacketConn, want int) []string {
	t.Helper()
	var lines []string
	buf := make([]byte, 65536)
	for len(lines) < want {
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			break
		}
		for _, l := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	slices.Sort(lines)
	return lines
}

func TestMetricsWireFormat(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port

	tests := []struct {
		name   string
		prefix string
		send   func(m *Metrics)
		want   []string
	}{
		{
			name:   "old tool names, base tags, call tags",
			prefix: "tracker_exporter",
			send: func(m *Metrics) {
				m.Count("issues_total_processed_count", 3, "source:issues")
				m.Gauge("etl_upload_status", 1)
				m.WithTags("stage:loader").Timing("clickhouse_insert_time_seconds", 1500*time.Millisecond, "database:agile")
			},
			want: []string{
				"tracker_exporter_clickhouse_insert_time_seconds:1500.000000|ms|#project:internal,stage:loader,database:agile",
				"tracker_exporter_etl_upload_status:1|g|#project:internal",
				"tracker_exporter_issues_total_processed_count:3|c|#project:internal,source:issues",
			},
		},
		{
			name:   "prefix ending in a dot still gets the underscore (the old tool's f\"{prefix}_{name}\")",
			prefix: "te.",
			send:   func(m *Metrics) { m.Count("issues_failed_count", 1) },
			want:   []string{"te._issues_failed_count:1|c|#project:internal"},
		},
		{
			name:   "no prefix (the old tool sent _name)",
			prefix: "",
			send:   func(m *Metrics) { m.Gauge("last_update_timestamp", 1700000000) },
			want:   []string{"_last_update_timestamp:1700000000|g|#project:internal"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMetrics(MetricsConfig{Host: "127.0.0.1", Port: port, Prefix: tt.prefix, Tags: []string{"project:internal"}})
			if err != nil {
				t.Fatal(err)
			}
			tt.send(m)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			got := readDatagrams(t, conn, len(tt.want))
			// Drop the container-id field that origin detection may add.
			for i, l := range got {
				if j := strings.Index(l, "|c:"); j >= 0 {
					got[i] = l[:j]
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.Count("x", 1)
	m.Gauge("x", 1)
	m.Timing("x", time.Second)
	if m.WithTags("a:b") != nil {
		t.Error("nil.WithTags() != nil")
	}
	if err := m.Close(); err != nil {
		t.Errorf("nil.Close() = %v", err)
	}
}

func TestMetricPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "_", "tracker_exporter": "tracker_exporter_", "a_": "a__", "a.": "a._", "x" + strconv.Itoa(1): "x1_"} {
		if got := metricPrefix(in); got != want {
			t.Errorf("metricPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
