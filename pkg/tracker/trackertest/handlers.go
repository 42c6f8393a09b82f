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

// handleChangelog serves /issues/{key}/changelog: entries in order, paged
// by the id of the entry before the page and filtered by type and field.
func (s *Server) handleChangelog(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	params := q.r.URL.Query()
	cf, ok := parseChangelogFilter(q, params)
	if !ok {
		return
	}
	size, linkPer := s.changelogPageSize(cf.perPage)
	iss := s.issueByRef(ref, true)
	start, ok := changelogStart(q, iss, params.Get("id"))
	if !ok {
		return
	}
	page, more := pageFrom(start, len(iss.entries), size, func(k int) bool { return cf.match(&iss.entries[k]) })
	next := ""
	if s.wantsNext(more, len(page)) {
		next = iss.entries[page[len(page)-1]].id
	}
	base := cursorLinkBase(q, "/issues/"+iss.key+"/changelog", params, []string{"type", "field"})
	addCursorLinks(q.w.Header(), base, strconv.Itoa(linkPer), next)
	issueRef := q.refs.appendIssueRef(nil, iss.key, iss.id, iss.st.summary)
	b := make([]byte, 0, 256+len(page)*1200)
	b = appendJSONList(b, page, func(b []byte, k int) []byte {
		return s.appendEntry(b, q.refs, iss, issueRef, &iss.entries[k])
	})
	q.writeJSON(http.StatusOK, b, true)
}

// changelogFilter is what a changelog request asks: the page size and the
// entry types and fields wanted (none: all).
type changelogFilter struct {
	perPage       int
	types, fields []string
}

// parseChangelogFilter reads perPage, type and field; false after
// answering 400 for a bad perPage or an unknown entry type.
func parseChangelogFilter(q *req, params url.Values) (changelogFilter, bool) {
	perPage, err := intParam(params, "perPage", defaultPerPage, 1, maxPerPage)
	if err != nil {
		q.badRequest(err)
		return changelogFilter{}, false
	}
	types := multiParam(params, "type")
	for _, t := range types {
		if !knownEntryTypes[t] {
			q.fail(http.StatusBadRequest, "Unknown change type "+strconv.Quote(t))
			return changelogFilter{}, false
		}
	}
	return changelogFilter{perPage: perPage, types: types, fields: multiParam(params, "field")}, true
}

// match tells whether entry e has a wanted type and changes a wanted field.
func (cf *changelogFilter) match(e *entry) bool {
	if len(cf.types) > 0 && !slicesContains(cf.types, entryTypeNames[e.typ]) {
		return false
	}
	if len(cf.fields) == 0 {
		return true
	}
	for _, fc := range e.fields {
		if slicesContains(cf.fields, fieldDefs[fc.f].id) {
			return true
		}
	}
	return false
}

// changelogPageSize returns what a changelog page holds for the perPage
// asked, under Options.ChangelogPageCap, and the perPage of its links.
func (s *Server) changelogPageSize(perPage int) (size, linkPer int) {
	size, linkPer = perPage, perPage
	if capN := s.opts.ChangelogPageCap; capN > 0 && size > capN {
		size = capN
		if !s.opts.ChangelogCapEchoesRequest {
			linkPer = capN
		}
	}
	return size, linkPer
}

// changelogStart is the position after the changelog entry cursor ("": 0);
// false after answering 400 for an unknown entry.
func changelogStart(q *req, iss *issue, cursor string) (int, bool) {
	if cursor == "" {
		return 0, true
	}
	ord := entryOrdinal(iss, cursor)
	if ord < 0 {
		q.fail(http.StatusBadRequest, "Invalid value of parameter \"id\": no such change "+strconv.Quote(cursor))
		return 0, false
	}
	return ord + 1, true
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

// handleUsers serves /users, a page-mode list, and /users/_relative.
func (s *Server) handleUsers(q *req) {
	if len(q.segs) == 2 {
		s.handleRelativeUsers(q)
		return
	}
	s.writePaged(q, numDirUsers, "/users", func(b []byte, i int) []byte { return s.appendUser(b, q, i) })
}

// handleRelativeUsers serves /users/_relative: users by ascending uid
// after the cursor uid ("id"), with rel="next" while more follow.
func (s *Server) handleRelativeUsers(q *req) {
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
	page, more := pageFrom(0, numDirUsers, perPage, func(u int) bool { return userUID(u) > after })
	if more {
		last := userUID(page[len(page)-1])
		q.w.Header().Set("Link", "<"+q.api+"/users/_relative?perPage="+strconv.Itoa(perPage)+
			"&id="+strconv.FormatInt(last, 10)+">; rel=\"next\"")
	}
	b := appendJSONList(nil, page, func(b []byte, u int) []byte { return s.appendUser(b, q, u) })
	q.writeJSON(http.StatusOK, b, false)
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
	if q.segs[0] == "components" {
		s.handleComponents(q)
		return
	}
	s.handleProject(q) // projects/{id}, entities/project/{hex}
}

// handleComponents serves /components and /components/{id}.
func (s *Server) handleComponents(q *req) {
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
}

// handleProject serves /projects/{id} and, in the v3 shape,
// /entities/project/{hex}; either takes the number or the hex id.
func (s *Server) handleProject(q *req) {
	id := q.segs[len(q.segs)-1]
	for i, d := range projectDefs {
		if id == itoa(i+1) || id == d.hex {
			q.writeJSON(http.StatusOK, s.appendProject(nil, q, i), false)
			return
		}
	}
	q.fail(http.StatusNotFound, "Project does not exist")
}

// appendProject appends project i as the request's path asks: an entity
// under /entities, else a v2 project.
func (s *Server) appendProject(b []byte, q *req, i int) []byte {
	d := projectDefs[i]
	b = append(b, `{"self":`...)
	b = appendJSONString(b, q.api+"/"+strings.Join(q.segs, "/"))
	b = append(b, `,"id":`...)
	if q.segs[0] == "entities" {
		b = appendJSONString(b, d.hex)
		b = append(b, `,"shortId":`...)
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, `,"entityType":"project","fields":{"summary":`...)
		b = appendJSONString(b, d.name)
		return append(b, `}}`...)
	}
	b = strconv.AppendInt(b, int64(i+1), 10)
	b = append(b, `,"version":1,"key":`...)
	b = appendJSONString(b, d.name)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, d.name)
	return append(b, `,"status":"in_progress"}`...)
}
