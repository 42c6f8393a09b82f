package trackertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest/internal/query"
)

// Search body modes, in precedence order.
const (
	modeNone = iota
	modeQueue
	modeKeys
	modeFilter
	modeQuery
)

// modeFields are the body keys of the modes.
var modeFields = [...]string{modeQueue: "queue", modeKeys: "keys", modeFilter: "filter", modeQuery: "query"}

// queryError is a 400 answer.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func qerr(format string, a ...any) error { return &queryError{fmt.Sprintf(format, a...)} }

// searchBody is what a _search or _count body asks: the criteria given
// (present lists their modes in precedence order) and the order.
type searchBody struct {
	queue, query string
	keys         []string
	filter       map[string]json.RawMessage
	present      []int
	order        []string
}

// absent tells the values that count as not given: null, {}, "", [].
func absent(m json.RawMessage) bool {
	t := string(bytes.TrimSpace(m))
	return t == "" || t == "null" || t == "{}" || t == `""` || t == "[]"
}

// parseSearch reads the body and query string of _search/_count into
// criteria. A nil error with mode modeNone selects every issue.
func (s *Server) parseSearch(q *req) (*criteria, int, error) {
	sb, err := readSearchBody(q.r.Body)
	if err != nil {
		return nil, 0, err
	}
	for _, o := range q.r.URL.Query()["order"] {
		sb.order = append(sb.order, strings.Split(o, ",")...)
	}
	mode := modeNone
	if len(sb.present) > 0 {
		mode = sb.present[0] // appended in precedence order
	}
	c, err := s.searchCriteria(sb, mode)
	if err != nil {
		return nil, 0, err
	}
	if len(c.sort) == 0 {
		c.sort = byKey
	}
	return c, mode, nil
}

// readSearchBody decodes a search body and checks its combination of
// criteria.
func readSearchBody(r io.Reader) (*searchBody, error) {
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, qerr("Cannot read request body: %v", err)
	}
	body := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, qerr("Invalid JSON body: %v", err)
		}
	}
	sb := &searchBody{}
	for mode := modeQueue; mode <= modeQuery; mode++ {
		if m, ok := body[modeFields[mode]]; ok && !absent(m) {
			if err := sb.decode(mode, m); err != nil {
				return nil, err
			}
			sb.present = append(sb.present, mode)
		}
	}
	if m, ok := body["filterId"]; ok && !absent(m) && len(sb.present) == 0 {
		return nil, qerr("Saved filters (filterId) are not supported by the emulator")
	}
	if len(sb.present) >= 3 {
		return nil, qerr("You can only use keys, a queue, or a search query")
	}
	if m, ok := body["order"]; ok && !absent(m) {
		var one string
		if json.Unmarshal(m, &one) == nil {
			sb.order = []string{one}
		} else if err := json.Unmarshal(m, &sb.order); err != nil {
			return nil, qerr("Invalid value of \"order\": a string or an array of strings is expected")
		}
	}
	return sb, nil
}

// decode reads the criterion of one mode.
func (sb *searchBody) decode(mode int, m json.RawMessage) error {
	switch mode {
	case modeQueue:
		if json.Unmarshal(m, &sb.queue) != nil {
			return qerr("Invalid value of \"queue\": a queue key string is expected")
		}
	case modeKeys:
		var one string
		if json.Unmarshal(m, &one) == nil {
			sb.keys = strings.Split(one, ",")
		} else if json.Unmarshal(m, &sb.keys) != nil {
			return qerr("Invalid value of \"keys\": a string or an array of strings is expected")
		}
	case modeFilter:
		if json.Unmarshal(m, &sb.filter) != nil {
			return qerr("Invalid value of \"filter\": an object is expected")
		}
	case modeQuery:
		if json.Unmarshal(m, &sb.query) != nil {
			return qerr("Invalid value of \"query\": a string is expected")
		}
	}
	return nil
}

// searchCriteria compiles the criterion of the mode that wins. Only a
// filter takes the order; queue and keys results are sorted by key.
func (s *Server) searchCriteria(sb *searchBody, mode int) (*criteria, error) {
	switch mode {
	case modeQueue:
		c := s.compile(query.ForQueue(sb.queue, s.catalog()))
		c.sort = byKey
		return c, nil
	case modeKeys:
		c := newCriteria()
		for _, k := range sb.keys {
			if k = strings.TrimSpace(k); k != "" {
				c.keys = append(c.keys, k)
			}
		}
		c.sort = byKey
		return c, nil
	case modeFilter:
		return s.filterCriteria(sb)
	case modeQuery:
		p, err := query.Parse(sb.query, s.catalog())
		if err != nil {
			return nil, err
		}
		return s.compile(p), nil
	}
	return newCriteria(), nil
}

func (s *Server) filterCriteria(sb *searchBody) (*criteria, error) {
	p, err := query.ParseFilter(sb.filter, s.catalog())
	if err != nil {
		return nil, err
	}
	for _, o := range sb.order {
		key, err := query.ParseOrder(o)
		if err != nil {
			return nil, err
		}
		p.Sort = append(p.Sort, key)
	}
	return s.compile(p), nil
}
