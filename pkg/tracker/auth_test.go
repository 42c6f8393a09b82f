package tracker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// TestValidateCredentials checks the token and organization rules: exactly
// one token and exactly one organization, in any combination, as the old
// tool's configuration had them. An IAM token with a Yandex 360 org id is
// what Tracker's docs ask of an organization linked to both Yandex 360 and
// Yandex Cloud (X-Org-ID), so it is accepted.
func TestValidateCredentials(t *testing.T) {
	const oauth, iam = setting.Secret("y0_oauth"), setting.Secret("t1.iam")
	tests := []struct {
		name       string
		token, iam setting.Secret
		org, cloud string
		want       string // "" for valid, else a fragment of the error
	}{
		{"oauth and 360 org", oauth, "", "42", "", ""},
		{"oauth and cloud org", oauth, "", "", "bpf123", ""},
		{"iam and cloud org", "", iam, "", "bpf123", ""},
		{"iam and 360 org", "", iam, "42", "", ""},
		{"both tokens", oauth, iam, "42", "", "Token: Token and IAMToken are both set"},
		{"no token", "", "", "42", "", "Token: not set"},
		{"both orgs", "", iam, "42", "bpf123", "OrgID: OrgID and CloudOrgID are both set"},
		{"no org", "", iam, "", "", "OrgID: not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tracker.Default()
			cfg.Token, cfg.IAMToken, cfg.OrgID, cfg.CloudOrgID = tt.token, tt.iam, tt.org, tt.cloud
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate(token=%t iam=%t org=%q cloud=%q) = %v, want no error", tt.token.IsSet(), tt.iam.IsSet(), tt.org, tt.cloud, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate(token=%t iam=%t org=%q cloud=%q) = %v, want an error with %q", tt.token.IsSet(), tt.iam.IsSet(), tt.org, tt.cloud, err, tt.want)
			}
		})
	}
}

// TestAuthHeaders checks the headers every request carries: the token
// with its scheme and the organization header of the id that is set.
func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		name       string
		token, iam setting.Secret
		org, cloud string
		want       map[string]string // "" means the header must be absent
	}{
		{"iam and 360 org", "", "t1.iam", "42", "",
			map[string]string{"Authorization": "Bearer t1.iam", "X-Org-ID": "42", "X-Cloud-Org-ID": ""}},
		{"iam and cloud org", "", "t1.iam", "", "bpf123",
			map[string]string{"Authorization": "Bearer t1.iam", "X-Org-ID": "", "X-Cloud-Org-ID": "bpf123"}},
		{"oauth and 360 org", "y0_oauth", "", "42", "",
			map[string]string{"Authorization": "OAuth y0_oauth", "X-Org-ID": "42", "X-Cloud-Org-ID": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got http.Header
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = r.Header.Clone()
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("[]"))
			}))
			t.Cleanup(srv.Close)
			c, err := tracker.New(tracker.Config{BaseURL: srv.URL, Token: tt.token, IAMToken: tt.iam, OrgID: tt.org, CloudOrgID: tt.cloud}, tracker.Deps{})
			if err != nil {
				t.Fatalf("New(token=%t iam=%t org=%q cloud=%q): %v", tt.token.IsSet(), tt.iam.IsSet(), tt.org, tt.cloud, err)
			}
			if _, err := c.Statuses(context.Background()); err != nil {
				t.Fatalf("Statuses: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for name, want := range tt.want {
				if v := got.Get(name); v != want {
					t.Errorf("header %s = %q, want %q", name, v, want)
				}
			}
		})
	}
}
