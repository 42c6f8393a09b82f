package trackertest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Comments, worklogs, links, boards and sprints: their HTTP endpoints and
// the changelog payloads that announce them (tracker-api.md §4.3, §5.6–5.8).

// maxCursorPerPage is the largest page of comments and worklog records.
const maxCursorPerPage = 100

// Messages of the access errors.
const (
	msgNoIssue   = "Issue does not exist."
	msgForbidden = "You do not have permission to access this issue."
)

// visibleIssue resolves the issue of q.segs[1]: 404 for an unknown or
// deleted issue, 403 for a hidden one.
func (s *Server) visibleIssue(q *req) (int32, bool) {
	ref, ok := s.resolve(q.segs[1])
	if !ok {
		q.fail(http.StatusNotFound, msgNoIssue)
		return 0, false
	}
	switch s.goneState(ref) {
	case goneDeleted:
		q.fail(http.StatusNotFound, msgNoIssue)
		return 0, false
	case goneHidden:
		q.fail(http.StatusForbidden, msgForbidden)
		return 0, false
	}
	return ref, true
}

// rawText returns the text of a text value, unescaped.
func rawText(v value) []byte {
	switch v.k {
	case vString:
		return []byte(v.s)
	case vText:
		return appendText(nil, uint64(v.n), int(v.f))
	}
	return nil
}

// appendCommentDisplay appends the display of a comment with text v: the
// text's first line.
func appendCommentDisplay(b []byte, v value) []byte {
	if v.k == vText {
		return appendTextValue(b, textV(uint64(v.n), textSummary))
	}
	line := v.s
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return appendJSONString(b, line)
}

func (s *Server) appendCommentRef(b []byte, rs *refSet, iss *issue, id int64, text value) []byte {
	cid := strconv.FormatInt(id, 10)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/comments/"+cid)
	b = append(b, `,"id":`...)
	b = append(b, cid...)
	b = append(b, `,"display":`...)
	b = appendCommentDisplay(b, text)
	return append(b, '}')
}

// appendCommentChange appends the "comments" key of a comment entry or of
// a transition that left a comment.
func (s *Server) appendCommentChange(b []byte, rs *refSet, iss *issue, e *entry) []byte {
	switch e.typ {
	case etCommentUpdated:
		b = append(b, `,"comments":{"updated":[{"comment":`...)
		b = s.appendCommentRef(b, rs, iss, e.commentID, e.x.text)
		b = append(b, `,"from":`...)
		b = appendTextValue(b, e.x.prev)
		b = append(b, `,"to":`...)
		b = appendTextValue(b, e.x.text)
		return append(b, `}]}`...)
	case etCommentRemoved:
		b = append(b, `,"comments":{"removed":[`...)
		b = s.appendCommentRef(b, rs, iss, e.commentID, e.x.prev)
		return append(b, `]}`...)
	}
	text := textV(uint64(e.commentID)^s.seed, textSummary)
	if e.x != nil {
		text = e.x.text
	}
	b = append(b, `,"comments":{"added":[`...)
	b = s.appendCommentRef(b, rs, iss, e.commentID, text)
	return append(b, `]}`...)
}

func appendWorklogState(b []byte, w wlState) []byte {
	if !w.ok {
		return append(b, "null"...)
	}
	b = append(b, `{"duration":`...)
	b = appendJSONString(b, formatDuration(w.dur))
	b = append(b, `,"start":`...)
	b = appendTime(b, w.start)
	return append(b, '}')
}

// appendWorklogChange appends the "worklog" key of a worklog entry: the
// record's ref (display: its duration) and its duration and start before
// and after.
func (s *Server) appendWorklogChange(b []byte, rs *refSet, iss *issue, e *entry) []byte {
	wid := strconv.FormatInt(e.x.wid, 10)
	disp := e.x.to
	if !disp.ok {
		disp = e.x.from
	}
	b = append(b, `,"worklog":[{"record":{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/worklog/"+wid)
	b = append(b, `,"id":`...)
	b = append(b, wid...)
	b = append(b, `,"display":`...)
	b = appendJSONString(b, formatDuration(disp.dur))
	b = append(b, `},"from":`...)
	b = appendWorklogState(b, e.x.from)
	b = append(b, `,"to":`...)
	b = appendWorklogState(b, e.x.to)
	return append(b, `}]`...)
}

// appendOtherRef appends the keyed ref of another issue, as it is now.
func (s *Server) appendOtherRef(b []byte, rs *refSet, ref int32) []byte {
	o := s.issueByRef(ref, false)
	return rs.appendIssueRef(b, o.key, o.id, o.st.summary)
}

func appendLinkType(b []byte, rs *refSet, t int) []byte {
	d := linkTypeDefs[t]
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/linktypes/"+d.id)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, d.id)
	b = append(b, `,"inward":`...)
	b = appendJSONString(b, d.inward)
	b = append(b, `,"outward":`...)
	b = appendJSONString(b, d.outward)
	return append(b, '}')
}

func direction(outward bool) string {
	if outward {
		return "outward"
	}
	return "inward"
}

// appendLinkChange appends the "links" key of a link entry.
func (s *Server) appendLinkChange(b []byte, rs *refSet, e *entry) []byte {
	side := func(b []byte, t int8) []byte {
		if t < 0 {
			return append(b, "null"...)
		}
		b = append(b, `{"direction":"`...)
		b = append(b, direction(e.x.outward)...)
		b = append(b, `","object":`...)
		b = s.appendOtherRef(b, rs, e.x.other)
		b = append(b, `,"type":`...)
		b = appendLinkType(b, rs, int(t))
		return append(b, '}')
	}
	b = append(b, `,"links":[{"from":`...)
	b = side(b, e.x.fromT)
	b = append(b, `,"to":`...)
	b = side(b, e.x.toT)
	return append(b, `}]`...)
}

// commentLongID is the 24-hex longId of a comment.
func (s *Server) commentLongID(c *commentRec) string {
	b := make([]byte, 0, 24)
	b = appendHex(b, uint64(c.createdAt/1000), 8)
	return string(appendHex(b, mix(s.seed^saltLong, uint64(c.id)), 16))
}

// appendHTML appends text as HTML: escaped, paragraphs on blank lines,
// <br/> on single newlines.
func appendHTML(b []byte, text []byte) []byte {
	b = append(b, "<p>"...)
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\n':
			if i+1 < len(text) && text[i+1] == '\n' {
				b = append(b, "</p><p>"...)
				i++
			} else {
				b = append(b, "<br/>"...)
			}
		default:
			b = append(b, c)
		}
	}
	return append(b, "</p>"...)
}

func (s *Server) appendComment(b []byte, rs *refSet, iss *issue, c *commentRec, html bool) []byte {
	cid := strconv.FormatInt(c.id, 10)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/comments/"+cid)
	b = append(b, `,"id":`...)
	b = append(b, cid...)
	b = append(b, `,"longId":"`...)
	b = append(b, s.commentLongID(c)...)
	b = append(b, `","text":`...)
	raw := rawText(c.text)
	b = appendJSONString(b, string(raw))
	if html {
		b = append(b, `,"textHtml":`...)
		b = appendJSONString(b, string(appendHTML(nil, raw)))
	}
	b = append(b, `,"createdBy":`...)
	b = append(b, rs.user[c.by]...)
	b = append(b, `,"updatedBy":`...)
	b = append(b, rs.user[c.updBy]...)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, c.createdAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, c.updatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(c.version), 10)
	b = append(b, `,"type":"`...)
	b = append(b, commentKindNames[c.kind][0]...)
	b = append(b, `","transport":"`...)
	b = append(b, commentKindNames[c.kind][1]...)
	return append(b, `"}`...)
}

func (s *Server) appendWorklog(b []byte, rs *refSet, iss *issue, issueRef []byte, w *worklogRec) []byte {
	wid := strconv.FormatInt(w.id, 10)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/worklog/"+wid)
	b = append(b, `,"id":`...)
	b = append(b, wid...)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(w.version), 10)
	b = append(b, `,"issue":`...)
	b = append(b, issueRef...)
	if !w.comment.isNull() {
		b = append(b, `,"comment":`...)
		b = appendTextValue(b, w.comment)
	}
	b = append(b, `,"createdBy":`...)
	b = append(b, rs.user[w.by]...)
	b = append(b, `,"updatedBy":`...)
	b = append(b, rs.user[w.updBy]...)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, w.createdAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, w.updatedAt)
	b = append(b, `,"start":`...)
	b = appendTime(b, w.state.start)
	b = append(b, `,"duration":`...)
	b = appendJSONString(b, formatDuration(w.state.dur))
	return append(b, '}')
}

func (s *Server) appendLink(b []byte, rs *refSet, iss *issue, l *linkRec) []byte {
	lid := strconv.FormatInt(l.id, 10)
	o := s.issueByRef(l.other, false)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/links/"+lid)
	b = append(b, `,"id":`...)
	b = append(b, lid...)
	b = append(b, `,"type":`...)
	b = appendLinkType(b, rs, l.typ)
	b = append(b, `,"direction":"`...)
	b = append(b, direction(l.outward)...)
	b = append(b, `","object":`...)
	b = rs.appendIssueRef(b, o.key, o.id, o.st.summary)
	b = append(b, `,"createdBy":`...)
	b = append(b, rs.user[l.by]...)
	b = append(b, `,"updatedBy":`...)
	b = append(b, rs.user[l.updBy]...)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, l.createdAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, l.updatedAt)
	if o.st.assignee >= 0 {
		b = append(b, `,"assignee":`...)
		b = append(b, rs.user[o.st.assignee]...)
	}
	b = append(b, `,"status":`...)
	b = append(b, rs.status[o.st.status]...)
	return append(b, '}')
}

// writeCursorPage serves one page of a cursor-paged list (comments,
// worklog). ids are the ids of every item the issue ever had, in creation
// order; live tells the items still listed. The cursor id is the item
// after which the page starts (a removed item is a valid cursor); an
// unknown one gets 400. Links: rel="first" always, rel="next" while more
// items exist (Options.Realistic: also on the last non-empty page), each
// keeping the parameters named in keep.
func (s *Server) writeCursorPage(q *req, path string, ids []int64, live func(int) bool, keep []string, item func([]byte, int) []byte) {
	params := q.r.URL.Query()
	perPage, err := intParam(params, "perPage", defaultPerPage, 1, maxCursorPerPage)
	if err != nil {
		q.badRequest(err)
		return
	}
	start, ok := cursorStart(q, ids, params.Get("id"))
	if !ok {
		return
	}
	page, more := pageFrom(start, len(ids), perPage, live)
	next := ""
	if s.wantsNext(more, len(page)) {
		next = strconv.FormatInt(ids[page[len(page)-1]], 10)
	}
	addCursorLinks(q.w.Header(), cursorLinkBase(q, path, params, keep), strconv.Itoa(perPage), next)
	b := make([]byte, 0, 256+len(page)*800)
	q.writeJSON(http.StatusOK, appendJSONList(b, page, item), false)
}

// cursorStart is the position after the item whose id is cursor ("": 0);
// false after answering 400 for an id that is not one of ids.
func cursorStart(q *req, ids []int64, cursor string) (int, bool) {
	if cursor == "" {
		return 0, true
	}
	pos := -1
	if n, err := strconv.ParseInt(cursor, 10, 64); err == nil {
		pos = slices.Index(ids, n)
	}
	if pos < 0 {
		q.fail(http.StatusBadRequest, "Invalid value of parameter \"id\": "+strconv.Quote(cursor))
		return 0, false
	}
	return pos + 1, true
}

// pageFrom returns the positions of a page: the first size positions of
// [start, n) that keep accepts, and whether another one follows.
func pageFrom(start, n, size int, keep func(int) bool) (page []int, more bool) {
	for k := start; k < n; k++ {
		if !keep(k) {
			continue
		}
		if len(page) == size {
			return page, true
		}
		page = append(page, k)
	}
	return page, false
}

// wantsNext tells whether a cursor page of n items gets rel="next": while
// more items follow, and with Options.Realistic on any non-empty page.
func (s *Server) wantsNext(more bool, n int) bool {
	return more || (s.opts.Realistic && n > 0)
}

// cursorLinkBase is the start of a cursor-paged list's links: its URL with
// the request's parameters named in keep, ready for more parameters.
func cursorLinkBase(q *req, path string, params url.Values, keep []string) string {
	extra := url.Values{}
	for _, name := range keep {
		if v, ok := params[name]; ok {
			extra[name] = v
		}
	}
	base := q.api + path + "?"
	if enc := extra.Encode(); enc != "" {
		base += enc + "&"
	}
	return base
}

// addCursorLinks adds the Link rel="first" of a cursor-paged list and,
// when next (the id of the page's last item) is not "", its rel="next".
func addCursorLinks(h http.Header, base, perPage, next string) {
	h.Add("Link", "<"+base+"perPage="+perPage+">; rel=\"first\"")
	if next != "" {
		h.Add("Link", "<"+base+"id="+next+"&perPage="+perPage+">; rel=\"next\"")
	}
}

// appendJSONList appends the JSON array of the items at positions page.
func appendJSONList(b []byte, page []int, item func([]byte, int) []byte) []byte {
	b = append(b, '[')
	for n, k := range page {
		if n > 0 {
			b = append(b, ',')
		}
		b = item(b, k)
	}
	return append(b, ']')
}

// itemID parses the id of .../comments/{id} and the like; -1 if invalid.
func itemID(seg string) int64 {
	n, err := strconv.ParseInt(seg, 10, 64)
	if err != nil || n <= 0 {
		return -1
	}
	return n
}

func (s *Server) handleComments(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	iss := s.issueByRef(ref, true)
	p := derive(iss)
	html := false
	for _, x := range multiParam(q.r.URL.Query(), "expand") {
		html = html || x == "html" || x == "all"
	}
	if len(q.segs) == 4 {
		id := itemID(q.segs[3])
		for k := range p.comments {
			if c := &p.comments[k]; c.id == id && !c.removed {
				q.writeJSON(http.StatusOK, s.appendComment(nil, q.refs, iss, c, html), false)
				return
			}
		}
		q.fail(http.StatusNotFound, "Comment does not exist.")
		return
	}
	ids := make([]int64, len(p.comments))
	for k := range p.comments {
		ids[k] = p.comments[k].id
	}
	s.writeCursorPage(q, "/issues/"+iss.key+"/comments", ids,
		func(k int) bool { return !p.comments[k].removed }, []string{"expand"},
		func(b []byte, k int) []byte { return s.appendComment(b, q.refs, iss, &p.comments[k], html) })
}

func (s *Server) handleWorklog(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	iss := s.issueByRef(ref, true)
	p := derive(iss)
	issueRef := q.refs.appendIssueRef(nil, iss.key, iss.id, iss.st.summary)
	if len(q.segs) == 4 {
		id := itemID(q.segs[3])
		for k := range p.worklogs {
			if w := &p.worklogs[k]; w.id == id && !w.removed {
				q.writeJSON(http.StatusOK, s.appendWorklog(nil, q.refs, iss, issueRef, w), false)
				return
			}
		}
		q.fail(http.StatusNotFound, "Worklog does not exist.")
		return
	}
	ids := make([]int64, len(p.worklogs))
	for k := range p.worklogs {
		ids[k] = p.worklogs[k].id
	}
	s.writeCursorPage(q, "/issues/"+iss.key+"/worklog", ids,
		func(k int) bool { return !p.worklogs[k].removed }, nil,
		func(b []byte, k int) []byte { return s.appendWorklog(b, q.refs, iss, issueRef, &p.worklogs[k]) })
}

func (s *Server) handleLinks(q *req) {
	ref, ok := s.visibleIssue(q)
	if !ok {
		return
	}
	iss := s.issueByRef(ref, true)
	p := derive(iss)
	if len(q.segs) == 4 {
		id := itemID(q.segs[3])
		for k := range p.links {
			if l := &p.links[k]; l.id == id && !l.removed {
				q.writeJSON(http.StatusOK, s.appendLink(nil, q.refs, iss, l), false)
				return
			}
		}
		q.fail(http.StatusNotFound, "Link does not exist.")
		return
	}
	b := []byte{'['}
	for k := range p.links {
		if p.links[k].removed {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = s.appendLink(b, q.refs, iss, &p.links[k])
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

// Boards and sprints.

var countryNames = [2]string{"Russia", "Россия"}

func (s *Server) appendBoard(b []byte, q *req, k int) []byte {
	d := boardDefs[k]
	id := itoa(k + 1)
	qs := s.queueList()
	b = append(b, `{"self":`...)
	b = appendJSONString(b, q.api+"/boards/"+id)
	b = append(b, `,"id":`...)
	b = append(b, id...)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(d.version), 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, d.name)
	b = append(b, `,"columns":[`...)
	for c, st := range d.columns {
		if c > 0 {
			b = append(b, ',')
		}
		b = append(b, keyedRef(q.api, "/boards/"+id+"/columns/"+itoa(c+1), itoa(c+1), "", statusDefs[st].name[q.lang])...)
	}
	b = append(b, `],"filter":{"queue":`...)
	query := "Queue: "
	if len(d.queues) == 1 {
		b = appendJSONString(b, qs[d.queues[0]].key)
		query += qs[d.queues[0]].key
	} else {
		b = append(b, '[')
		for n, x := range d.queues {
			if n > 0 {
				b = append(b, ',')
				query += ", "
			}
			b = appendJSONString(b, qs[x].key)
			query += qs[x].key
		}
		b = append(b, ']')
	}
	b = append(b, `},"orderBy":"updatedAt","orderAsc":false,"query":`...)
	b = appendJSONString(b, query)
	b = append(b, `,"useRanking":`...)
	b = strconv.AppendBool(b, d.useRanking)
	b = append(b, `,"country":`...)
	b = append(b, keyedRef(q.api, "/countries/1", "1", "", countryNames[q.lang])...)
	return append(b, '}')
}

// sprintTimes returns a sprint's start (09:00 Moscow time, 06:00Z, on its
// start date) and end (21:00 Moscow time, 18:00Z, on its end date).
func sprintTimes(k int) (start, end int64) {
	d := sprintDefs[k]
	st, _ := time.Parse("2006-01-02", d.start)
	en, _ := time.Parse("2006-01-02", d.end)
	return st.Add(6 * time.Hour).UnixMilli(), en.Add(18 * time.Hour).UnixMilli()
}

// sprintStatus is a sprint's status at Options.Now: draft before its
// start, in_progress until its end, released after it, archived 180 days
// after it.
func (s *Server) sprintStatus(k int) (status string, archived bool, version int) {
	start, end := sprintTimes(k)
	switch {
	case s.nowMS < start:
		return "draft", false, 1
	case s.nowMS <= end:
		return "in_progress", false, 2
	case s.nowMS-end <= 180*msPerDay:
		return "released", false, 3
	}
	return "archived", true, 4
}

func (s *Server) appendSprint(b []byte, q *req, k int) []byte {
	d := sprintDefs[k]
	bd := boardDefs[d.board]
	start, end := sprintTimes(k)
	status, archived, version := s.sprintStatus(k)
	b = append(b, `{"self":`...)
	b = appendJSONString(b, q.api+"/sprints/"+itoa(k+1))
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(k+1), 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, d.name)
	b = append(b, `,"board":`...)
	b = append(b, keyedRef(q.api, "/boards/"+itoa(d.board+1), itoa(d.board+1), "", bd.name)...)
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","archived":`...)
	b = strconv.AppendBool(b, archived)
	b = append(b, `,"createdBy":`...)
	b = append(b, q.refs.user[bd.lead]...)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, start-7*msPerDay)
	b = append(b, `,"startDate":`...)
	b = appendJSONString(b, d.start)
	b = append(b, `,"endDate":`...)
	b = appendJSONString(b, d.end)
	b = append(b, `,"startDateTime":`...)
	b = appendTime(b, start)
	b = append(b, `,"endDateTime":`...)
	b = appendTime(b, end)
	return append(b, '}')
}

// handleBoards serves /boards, /boards/{id} and /boards/{id}/sprints.
func (s *Server) handleBoards(q *req) {
	if len(q.segs) == 1 {
		b := []byte{'['}
		for k := range boardDefs {
			if k > 0 {
				b = append(b, ',')
			}
			b = s.appendBoard(b, q, k)
		}
		q.writeJSON(http.StatusOK, append(b, ']'), false)
		return
	}
	k := findNamed(q.segs[1], len(boardDefs), func(int) string { return "" })
	if k < 0 {
		q.fail(http.StatusNotFound, "Board does not exist.")
		return
	}
	if len(q.segs) == 2 {
		q.writeJSON(http.StatusOK, s.appendBoard(nil, q, k), false)
		return
	}
	b := []byte{'['}
	for sp := range sprintDefs {
		if sprintDefs[sp].board != k {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = s.appendSprint(b, q, sp)
	}
	q.writeJSON(http.StatusOK, append(b, ']'), false)
}

// handleSprint serves /sprints/{id}.
func (s *Server) handleSprint(q *req) {
	k := findNamed(q.segs[1], len(sprintDefs), func(int) string { return "" })
	if k < 0 {
		q.fail(http.StatusNotFound, "Sprint does not exist")
		return
	}
	q.writeJSON(http.StatusOK, s.appendSprint(nil, q, k), false)
}
