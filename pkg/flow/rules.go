package flow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
)

// Status types, as Tracker names them.
const (
	TypeNew        = "new"
	TypeInProgress = "inProgress"
	TypePaused     = "paused"
	TypeDone       = "done"
	TypeCancelled  = "cancelled"
)

// ValidType reports whether typ is one of the five Tracker status types.
func ValidType(typ string) bool {
	switch typ {
	case TypeNew, TypeInProgress, TypePaused, TypeDone, TypeCancelled:
		return true
	}
	return false
}

// StatusInfo describes a status from Tracker's status directory.
type StatusInfo struct {
	Key  string // language-independent key, such as "inProgress"
	Name string // display name in the Tracker language, such as "In progress"
	Type string // new, inProgress, paused, done, cancelled, or "" when unknown
}

// Rules are what the metrics depend on besides the issue: the status
// directory, the configuration and the calendar. Compute only reads them, so
// one Rules value may be shared by concurrent calls.
type Rules struct {
	// Statuses is the status directory by key.
	Statuses map[string]StatusInfo
	// TypeOverrides replaces the type of statuses by key
	// (EXPORTER_STATUS_TYPES, e.g. readyForRelease → paused).
	TypeOverrides map[string]string
	// Closed lists statuses that are final whatever their type
	// (EXPORTER_CLOSED_ISSUE_STATUSES); an entry matches a status's key,
	// display name or snake_case display name, case-insensitively.
	Closed []string
	// Calendar measures business time; nil gives zero business time.
	Calendar *calendar.Calendar
}

// Validate reports every problem of r at once: type overrides must name one
// of the five types.
func (r *Rules) Validate() error {
	var errs []error
	for key, typ := range r.TypeOverrides {
		if !ValidType(typ) {
			errs = append(errs, fmt.Errorf("status type override %s=%s: want new, inProgress, paused, done or cancelled", key, typ))
		}
	}
	return errors.Join(errs...)
}

// Status resolves a status key: its display name (the key when the directory
// does not know it), its type (override first, then the directory), whether
// it is final (§2) and whether the directory or an override gives it a
// type.
func (r *Rules) Status(key string) (info StatusInfo, final, known bool) {
	info.Key = key
	if r == nil {
		info.Name = key
		return info, false, false
	}
	if s, ok := r.Statuses[key]; ok {
		// An entry with no type (a name from a reference) leaves it unknown.
		info.Name, info.Type, known = s.Name, s.Type, s.Type != ""
	}
	if info.Name == "" {
		info.Name = key
	}
	if typ, ok := r.TypeOverrides[key]; ok {
		info.Type, known = typ, true
	}
	final = info.Type == TypeDone || info.Type == TypeCancelled || r.closedListNames(info.Key, info.Name)
	return info, final, known
}

func (r *Rules) closedListNames(key, name string) bool {
	if len(r.Closed) == 0 {
		return false
	}
	snake := SnakeCase(name)
	for _, c := range r.Closed {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if strings.EqualFold(c, key) || strings.EqualFold(c, name) || strings.EqualFold(c, snake) {
			return true
		}
	}
	return false
}
