package trackertest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Documented changelog entry types (§4.3); others are refused with 400.
var knownEntryTypes = map[string]bool{
	"IssueUpdated": true, "IssueCreated": true, "IssueMoved": true, "IssueCloned": true,
	"IssueCommentAdded": true, "IssueCommentUpdated": true, "IssueCommentRemoved": true,
	"IssueWorklogAdded": true, "IssueWorklogUpdated": true, "IssueWorklogRemoved": true,
	"IssueCommentReactionAdded": true, "IssueCommentReactionRemoved": true,
	"IssueVoteAdded": true, "IssueVoteRemoved": true, "IssueLinked": true,
	"IssueLinkChanged": true, "IssueUnlinked": true, "RelatedIssueResolutionChanged": true,
	"IssueAttachmentAdded": true, "IssueAttachmentRemoved": true, "IssueWorkflow": true,
}

func (s *Server) handleIssue(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	iss := s.issueByRef(ref, false)
	q.writeJSON(http.StatusOK, s.appendIssue(make([]byte, 0, 4096), q.refs, iss), false)
}

// multiParam splits repeated and comma-separated values.
func multiParam(v url.Values, name string) []string {
	var out []string
	for _, x := range v[name] {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) handleChangelog(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	params := q.r.URL.Query()
	perPage, err := intParam(params, "perPage", defaultPerPage, 1, maxPerPage)
	if err != nil {
		q.badRequest(err)
		return
	}
	types := multiParam(params, "type")
	for _, t := range types {
		if !knownEntryTypes[t] {
			q.fail(http.StatusBadRequest, "Unknown change type "+strconv.Quote(t))
			return
		}
	}
	fields := multiParam(params, "field")
	// size is what a page holds; linkPer is the perPage of the links.
	size, linkPer := perPage, perPage
	if capN := s.opts.ChangelogPageCap; capN > 0 && size > capN {
		size = capN
		if !s.opts.ChangelogCapEchoesRequest {
			linkPer = capN
		}
	}
	iss := s.issueByRef(ref, true)
	start := 0
	if cursor := params.Get("id"); cursor != "" {
		ord := entryOrdinal(iss, cursor)
		if ord < 0 {
			q.fail(http.StatusBadRequest, "Invalid value of parameter \"id\": no such change "+strconv.Quote(cursor))
			return
		}
		start = ord + 1
	}
	match := func(e *entry) bool {
		if len(types) > 0 && !slicesContains(types, entryTypeNames[e.typ]) {
			return false
		}
		if len(fields) == 0 {
			return true
		}
		for _, fc := range e.fields {
			if slicesContains(fields, fieldDefs[fc.f].id) {
				return true
			}
		}
		return false
	}
	var page []*entry
	more := false
	for k := start; k < len(iss.entries); k++ {
		e := &iss.entries[k]
		if !match(e) {
			continue
		}
		if len(page) == size {
			more = true
			break
		}
		page = append(page, e)
	}
	extra := url.Values{}
	for _, name := range []string{"type", "field"} {
		if v, ok := params[name]; ok {
			extra[name] = v
		}
	}
	linkBase := q.api + "/issues/" + iss.key + "/changelog?"
	if enc := extra.Encode(); enc != "" {
		linkBase += enc + "&"
	}
	h := q.w.Header()
	h.Add("Link", "<"+linkBase+"perPage="+strconv.Itoa(linkPer)+">; rel=\"first\"")
	if more || (s.opts.Realistic && len(page) > 0) {
		h.Add("Link", "<"+linkBase+"id="+page[len(page)-1].id+"&perPage="+strconv.Itoa(linkPer)+">; rel=\"next\"")
	}
	issueRef := q.refs.appendIssueRef(nil, iss.key, iss.id, iss.st.summary)
	b := make([]byte, 0, 256+len(page)*1200)
	b = append(b, '[')
	for i, e := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendEntry(b, q.refs, iss, issueRef, e)
	}
	b = append(b, ']')
	q.writeJSON(http.StatusOK, b, true)
}

func slicesContains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// entryOrdinal finds the position of the entry with the given id, or -1.
func entryOrdinal(iss *issue, id string) int {
	if len(id) != 24 {
		return -1
	}
	ord, err := strconv.ParseUint(id[16:20], 16, 16)
	if err != nil || int(ord) >= len(iss.entries) || iss.entries[ord].id != id {
		return -1
	}
	return int(ord)
}

func (s *Server) handleStatuses(q *req) {
	appendStatus := func(b []byte, i int) []byte {
		d := statusDefs[i]
		b = append(b, `{"self":`...)
		b = appendJSONString(b, q.api+"/statuses/"+itoa(i+1))
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `,"version":1,"key":`...)
		b = appendJSONString(b, d.key)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, d.name[q.lang])
		b = append(b, `,"description":`...)
		b = appendJSONString(b, d.name[q.lang])
		b = append(b, `,"order":`...)
		b = strconv.AppendInt(b, int64(d.order), 10)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, d.typ)
		return append(b, '}')
	}
	if len(q.segs) == 2 {
		i := findNamed(q.segs[1], len(statusDefs), func(i int) string { return statusDefs[i].key })
		if i < 0 {
			q.fail(http.StatusNotFound, "Status does not exist.")
			return
		}
		q.writeJSON(http.StatusOK, appendStatus(nil, i), false)
		return
	}
	b := []byte{'['}
	for i := range statusDefs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStatus(b, i)
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

// findNamed finds a directory entry by numeric id (index + 1) or key.
func findNamed(idOrKey string, n int, key func(int) string) int {
	if id, err := strconv.Atoi(idOrKey); err == nil {
		if id >= 1 && id <= n {
			return id - 1
		}
		return -1
	}
	for i := range n {
		if strings.EqualFold(key(i), idOrKey) {
			return i
		}
	}
	return -1
}

// handleNamed serves issue types, priorities and resolutions.
func (s *Server) handleNamed(q *req, defs []namedDef, path string) {
	localized := q.r.URL.Query().Get("localized") != "false"
	appendOne := func(b []byte, i int) []byte {
		d := defs[i]
		b = append(b, `{"self":`...)
		b = appendJSONString(b, q.api+"/"+path+"/"+itoa(i+1))
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `,"key":`...)
		b = appendJSONString(b, d.key)
		b = append(b, `,"version":1,"name":`...)
		if localized {
			b = appendJSONString(b, d.name[q.lang])
		} else {
			b = append(b, `{"en":`...)
			b = appendJSONString(b, d.name[langEN])
			b = append(b, `,"ru":`...)
			b = appendJSONString(b, d.name[langRU])
			b = append(b, '}')
		}
		if path != "priorities" {
			b = append(b, `,"description":`...)
			b = appendJSONString(b, d.name[q.lang])
		}
		if path != "issuetypes" {
			b = append(b, `,"order":`...)
			b = strconv.AppendInt(b, int64(d.order), 10)
		}
		return append(b, '}')
	}
	if len(q.segs) == 2 {
		i := findNamed(q.segs[1], len(defs), func(i int) string { return defs[i].key })
		if i < 0 {
			q.fail(http.StatusNotFound, "Object does not exist.")
			return
		}
		q.writeJSON(http.StatusOK, appendOne(nil, i), false)
		return
	}
	b := []byte{'['}
	for i := range defs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOne(b, i)
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

func (s *Server) appendField(b []byte, q *req, f fieldID) []byte {
	d := fieldDefs[f]
	local := isLocalField(f)
	self := q.api + "/fields/" + d.id
	if local {
		lf := localFieldDefs[f-fTeamDEV]
		self = q.api + "/queues/" + queueDefs[lf.queue].key + "/localFields/" + lf.key
	}
	b = append(b, `{"self":`...)
	b = appendJSONString(b, self)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, d.id)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, d.name[q.lang])
	b = append(b, `,"key":`...)
	if local {
		b = appendJSONString(b, localFieldDefs[f-fTeamDEV].key)
	} else {
		b = appendJSONString(b, d.id)
	}
	b = append(b, `,"version":1,"schema":{"type":`...)
	b = appendJSONString(b, d.schema)
	if d.items != "" {
		b = append(b, `,"items":`...)
		b = appendJSONString(b, d.items)
	}
	b = append(b, `,"required":false},"readonly":`...)
	b = strconv.AppendBool(b, d.readonly)
	b = append(b, `,"options":`...)
	b = strconv.AppendBool(b, local)
	b = append(b, `,"suggest":false`...)
	if local {
		lf := localFieldDefs[f-fTeamDEV]
		b = append(b, `,"optionsProvider":{"type":"FixedListOptionsProvider","values":[`...)
		for i, o := range lf.options {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, o)
		}
		b = append(b, `]}`...)
	}
	b = append(b, `,"order":`...)
	b = strconv.AppendInt(b, int64(f)+1, 10)
	b = append(b, `,"category":{"self":`...)
	b = appendJSONString(b, q.api+"/fields/categories/"+d.category)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, d.category)
	b = append(b, `,"display":`...)
	b = appendJSONString(b, d.category)
	b = append(b, `},"type":`...)
	if local {
		b = append(b, `"local","queue":`...)
		b = append(b, q.refs.queue[localFieldDefs[f-fTeamDEV].queue]...)
	} else {
		b = append(b, `"standard"`...)
	}
	return append(b, '}')
}

func (s *Server) handleFields(q *req) {
	if len(q.segs) == 2 {
		for f := range fieldID(numGlobalFields) {
			if fieldDefs[f].id == q.segs[1] {
				q.writeJSON(http.StatusOK, s.appendField(nil, q, f), false)
				return
			}
		}
		q.fail(http.StatusNotFound, "Field does not exist.")
		return
	}
	b := []byte{'['}
	for f := range fieldID(numGlobalFields) {
		if f > 0 {
			b = append(b, ',')
		}
		b = s.appendField(b, q, f)
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

func (s *Server) handleQueues(q *req) {
	queues := s.queueList()
	appendQueue := func(b []byte, i int) []byte {
		d := queues[i]
		b = append(b, `{"self":`...)
		b = appendJSONString(b, q.api+"/queues/"+d.key)
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `,"key":`...)
		b = appendJSONString(b, d.key)
		b = append(b, `,"version":1,"name":`...)
		b = appendJSONString(b, d.name)
		if d.desc != "" {
			b = append(b, `,"description":`...)
			b = appendJSONString(b, d.desc)
		}
		b = append(b, `,"lead":`...)
		b = append(b, q.refs.user[d.lead]...)
		b = append(b, `,"assignAuto":false,"defaultType":`...)
		b = append(b, q.refs.typ[typeTask]...)
		b = append(b, `,"defaultPriority":`...)
		b = append(b, q.refs.prio[prioNormal]...)
		b = append(b, `,"denyVoting":false}`...)
		return b
	}
	if len(q.segs) >= 2 {
		idx := -1
		for i := range queues {
			if strings.EqualFold(queues[i].key, q.segs[1]) || itoa(i+1) == q.segs[1] {
				idx = i
			}
		}
		if idx < 0 {
			q.fail(http.StatusNotFound, "Queue does not exist.")
			return
		}
		if len(q.segs) == 3 { // localFields
			b := []byte{'['}
			if lf := s.queueLocalField(idx); lf >= 0 {
				b = s.appendField(b, q, fTeamDEV+fieldID(lf))
			}
			q.writeJSON(http.StatusOK, append(b, ']'), false)
			return
		}
		q.writeJSON(http.StatusOK, appendQueue(nil, idx), false)
		return
	}
	s.writePaged(q, len(queues), "/queues", func(b []byte, i int) []byte { return appendQueue(b, i) })
}

// writePaged serves a page-mode collection with X-Total-Count,
// X-Total-Pages and Link rel="next"/"seek".
func (s *Server) writePaged(q *req, total int, path string, item func([]byte, int) []byte) {
	params := q.r.URL.Query()
	perPage, err := intParam(params, "perPage", defaultPerPage, 1, maxPerPage)
	if err != nil {
		q.badRequest(err)
		return
	}
	page, err := intParam(params, "page", 1, 1, 1<<30)
	if err != nil {
		q.badRequest(err)
		return
	}
	pages := (total + perPage - 1) / perPage
	h := q.w.Header()
	h.Set("X-Total-Count", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	base := q.api + path + "?perPage=" + strconv.Itoa(perPage)
	link := ""
	if page < pages {
		link = "<" + base + "&page=" + strconv.Itoa(page+1) + ">; rel=\"next\", "
	}
	h.Set("Link", link+"<"+base+"{&page}>; rel=\"seek\"")
	b := []byte{'['}
	for i := (page - 1) * perPage; i < min(page*perPage, total); i++ {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

func (s *Server) appendUser(b []byte, q *req, u int) []byte {
	d := userDefs[u]
	uid := strconv.FormatInt(userUID(u), 10)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, q.api+"/users/"+uid)
	b = append(b, `,"uid":`...)
	b = append(b, uid...)
	b = append(b, `,"login":`...)
	b = appendJSONString(b, d.login)
	b = append(b, `,"trackerUid":`...)
	b = append(b, uid...)
	b = append(b, `,"passportUid":`...)
	b = append(b, uid...)
	b = append(b, `,"cloudUid":`...)
	b = appendJSONString(b, cloudUID(u))
	b = append(b, `,"firstName":`...)
	b = appendJSONString(b, d.first)
	b = append(b, `,"lastName":`...)
	b = appendJSONString(b, d.last)
	b = append(b, `,"display":`...)
	b = appendJSONString(b, d.display)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, d.login+"@example.ru")
	b = append(b, `,"external":false,"hasLicense":`...)
	b = strconv.AppendBool(b, !d.dismissed)
	b = append(b, `,"dismissed":`...)
	b = strconv.AppendBool(b, d.dismissed)
	b = append(b, `,"useNewFilters":true,"disableNotifications":false,"firstLoginDate":`...)
	b = appendTime(b, s.baseStart-int64(365+u)*msPerDay)
	b = append(b, `,"lastLoginDate":`...)
	b = appendTime(b, s.nowMS-int64(u+1)*3600*1000)
	b = append(b, `,"welcomeMailSent":true,"sources":["directory"],"position":`...)
	b = appendJSONString(b, d.position)
	return append(b, '}')
}

func (s *Server) handleUsers(q *req) {
	if len(q.segs) == 2 { // _relative: ascending uid after the cursor id
		params := q.r.URL.Query()
		perPage, err := intParam(params, "perPage", defaultPerPage, 1, 100)
		if err != nil {
			q.badRequest(err)
			return
		}
		after := int64(-1)
		if id := params.Get("id"); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				q.fail(http.StatusBadRequest, "Invalid value of parameter \"id\": "+strconv.Quote(id))
				return
			}
			after = n
		}
		b := []byte{'['}
		last, count, more := int64(0), 0, false
		for u := range numDirUsers {
			if userUID(u) <= after {
				continue
			}
			if count == perPage {
				more = true
				break
			}
			if count > 0 {
				b = append(b, ',')
			}
			b = s.appendUser(b, q, u)
			last = userUID(u)
			count++
		}
		if more {
			q.w.Header().Set("Link", "<"+q.api+"/users/_relative?perPage="+strconv.Itoa(perPage)+
				"&id="+strconv.FormatInt(last, 10)+">; rel=\"next\"")
		}
		q.writeJSON(http.StatusOK, append(b, ']'), false)
		return
	}
	s.writePaged(q, numDirUsers, "/users", func(b []byte, i int) []byte { return s.appendUser(b, q, i) })
}

func (s *Server) handleUser(q *req) {
	u := lookupUser(q.segs[1])
	if u < 0 || userDefs[u].deleted {
		q.fail(http.StatusNotFound, "User does not exist.")
		return
	}
	q.writeJSON(http.StatusOK, s.appendUser(nil, q, u), false)
}

// handleOther serves components and projects.
func (s *Server) handleOther(q *req) {
	switch q.segs[0] {
	case "components":
		appendComp := func(b []byte, i int) []byte {
			d := componentDefs[i]
			b = append(b, `{"self":`...)
			b = appendJSONString(b, q.api+"/components/"+itoa(i+1))
			b = append(b, `,"id":`...)
			b = strconv.AppendInt(b, int64(i+1), 10)
			b = append(b, `,"version":1,"name":`...)
			b = appendJSONString(b, d.name)
			b = append(b, `,"queue":`...)
			b = append(b, q.refs.queue[d.queue]...)
			return append(b, `,"assignAuto":false}`...)
		}
		if len(q.segs) == 2 {
			i := findNamed(q.segs[1], len(componentDefs), func(int) string { return "" })
			if i < 0 {
				q.fail(http.StatusNotFound, "Component does not exist.")
				return
			}
			q.writeJSON(http.StatusOK, appendComp(nil, i), false)
			return
		}
		b := []byte{'['}
		for i := range componentDefs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendComp(b, i)
		}
		q.writeJSON(http.StatusOK, append(b, ']'), false)
	default: // projects/{id}, entities/project/{hex}
		id := q.segs[len(q.segs)-1]
		for i, d := range projectDefs {
			if id == itoa(i+1) || id == d.hex {
				b := append([]byte(nil), `{"self":`...)
				b = appendJSONString(b, q.api+"/"+strings.Join(q.segs, "/"))
				b = append(b, `,"id":`...)
				if q.segs[0] == "entities" {
					b = appendJSONString(b, d.hex)
					b = append(b, `,"shortId":`...)
					b = strconv.AppendInt(b, int64(i+1), 10)
					b = append(b, `,"entityType":"project","fields":{"summary":`...)
					b = appendJSONString(b, d.name)
					b = append(b, `}}`...)
				} else {
					b = strconv.AppendInt(b, int64(i+1), 10)
					b = append(b, `,"version":1,"key":`...)
					b = appendJSONString(b, d.name)
					b = append(b, `,"name":`...)
					b = appendJSONString(b, d.name)
					b = append(b, `,"status":"in_progress"}`...)
				}
				q.writeJSON(http.StatusOK, b, false)
				return
			}
		}
		q.fail(http.StatusNotFound, "Project does not exist")
	}
}
