package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestCustomFields maps a global and a local field and the tags to their
// own columns; the loader adds the columns, and the values equal the raw
// issue JSON's.
func TestCustomFields(t *testing.T) {
	f := newFixture(t, 150)
	for i, kv := range f.env {
		if strings.HasPrefix(kv, "EXPORTER_NATS__URL=") {
			f.env[i] = "EXPORTER_NATS__URL="
		}
	}
	f.env = append(f.env, "EXPORTER_CUSTOM_FIELDS=storyPoints:sp:Float64,6063181a59590573909db929--team:team:String,tags:labels:Array(String),createdAt:created_day:Date")
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run-once exit %d:\n%s", code, out)
	}
	rows, err := f.ch.Conn().Query(context.Background(),
		"SELECT issue_key, raw, sp, team, labels, toString(created_day) FROM `"+f.db+"`.issues_view")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, withTeam, withSP := 0, 0, 0
	for rows.Next() {
		var key, raw, team, day string
		var sp float64
		var labels []string
		if err := rows.Scan(&key, &raw, &sp, &team, &labels, &day); err != nil {
			t.Fatal(err)
		}
		n++
		var obj struct {
			StoryPoints *float64 `json:"storyPoints"`
			Team        string   `json:"6063181a59590573909db929--team"`
			Tags        []string `json:"tags"`
			CreatedAt   string   `json:"createdAt"`
		}
		if err := json.Unmarshal([]byte(raw), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.StoryPoints != nil {
			withSP++
			if sp != *obj.StoryPoints {
				t.Errorf("%s: sp %v, raw %v", key, sp, *obj.StoryPoints)
			}
		}
		if team != obj.Team {
			t.Errorf("%s: team %q, raw %q", key, team, obj.Team)
		}
		if team != "" {
			withTeam++
		}
		if strings.Join(labels, ",") != strings.Join(obj.Tags, ",") {
			t.Errorf("%s: labels %v, raw tags %v", key, labels, obj.Tags)
		}
		if !strings.HasPrefix(obj.CreatedAt, day) {
			t.Errorf("%s: created_day %s, createdAt %s", key, day, obj.CreatedAt)
		}
	}
	if n != f.em.IssueCount() || withTeam == 0 || withSP == 0 {
		t.Errorf("%d issues, %d with a team, %d with story points: the fields were not exercised", n, withTeam, withSP)
	}
}
