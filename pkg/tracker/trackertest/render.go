package trackertest

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-built JSON: the emulator renders thousands of issues per second, so
// it appends bytes instead of marshalling maps. Keys follow the order of
// the documentation examples; empty fields are omitted.

const dateTimeLayout = "2006-01-02T15:04:05.000-0700"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, `\u00`...)
			b = appendHex(b, uint64(c), 2)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONBytesString appends generated text (always valid UTF-8) as a
// JSON string literal.
func appendJSONBytesString(b []byte, raw []byte) []byte {
	b = append(b, '"')
	start := 0
	for i, c := range raw {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, raw[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, `\u00`...)
			b = appendHex(b, uint64(c), 2)
		}
		start = i + 1
	}
	b = append(b, raw[start:]...)
	return append(b, '"')
}

func appendTime(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = time.UnixMilli(ms).UTC().AppendFormat(b, dateTimeLayout)
	return append(b, '"')
}

func appendDate(b []byte, days int64) []byte {
	b = append(b, '"')
	b = time.Unix(days*86400, 0).UTC().AppendFormat(b, "2006-01-02")
	return append(b, '"')
}

func appendKey(b []byte, first bool, key string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// refSet holds the rendered references of one (base URL, version,
// language): they are the bulk of every issue and changelog entry.
type refSet struct {
	api        string
	v3         bool
	lang       int
	status     [][]byte
	statusType [][]byte
	typ        [][]byte
	prio       [][]byte
	res        [][]byte
	queue      [][]byte
	user       [][]byte
	comp       [][]byte
	sprint     [][]byte
	project    [][]byte
	field      [][]byte
}

func (s *Server) refSet(api string, v3 bool, lang int) *refSet {
	key := api + "|" + strconv.Itoa(lang)
	s.mu.RLock()
	rs := s.refSets[key]
	queues := s.queues
	s.mu.RUnlock()
	if rs != nil {
		return rs
	}
	rs = buildRefSet(api, v3, lang, queues)
	s.mu.Lock()
	if len(s.queues) == len(queues) {
		if len(s.refSets) > 64 { // many Host names: keep the map small
			clear(s.refSets)
		}
		s.refSets[key] = rs
	}
	s.mu.Unlock()
	return rs
}

func keyedRef(api, path, id, key, display string) []byte {
	b := append([]byte(nil), `{"self":`...)
	b = appendJSONString(b, api+path)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, id)
	if key != "" {
		b = append(b, `,"key":`...)
		b = appendJSONString(b, key)
	}
	b = append(b, `,"display":`...)
	b = appendJSONString(b, display)
	return append(b, '}')
}

func buildRefSet(api string, v3 bool, lang int, queues []queueDef) *refSet {
	rs := &refSet{api: api, v3: v3, lang: lang}
	for i, d := range statusDefs {
		id := itoa(i + 1)
		rs.status = append(rs.status, keyedRef(api, "/statuses/"+id, id, d.key, d.name[lang]))
		b := append([]byte(nil), `{"id":`...)
		b = appendJSONString(b, d.typ)
		b = append(b, `,"display":`...)
		b = appendJSONString(b, statusTypeNames[d.typ][lang])
		b = append(b, `,"key":`...)
		b = appendJSONString(b, d.typ)
		rs.statusType = append(rs.statusType, append(b, '}'))
	}
	for i, d := range issueTypeDefs {
		id := itoa(i + 1)
		rs.typ = append(rs.typ, keyedRef(api, "/issuetypes/"+id, id, d.key, d.name[lang]))
	}
	for i, d := range priorityDefs {
		id := itoa(i + 1)
		rs.prio = append(rs.prio, keyedRef(api, "/priorities/"+id, id, d.key, d.name[lang]))
	}
	for i, d := range resolutionDefs {
		id := itoa(i + 1)
		rs.res = append(rs.res, keyedRef(api, "/resolutions/"+id, id, d.key, d.name[lang]))
	}
	for i, d := range queues {
		rs.queue = append(rs.queue, keyedRef(api, "/queues/"+d.key, itoa(i+1), d.key, d.name))
	}
	for u := range userDefs {
		uid := strconv.FormatInt(userUID(u), 10)
		b := append([]byte(nil), `{"self":`...)
		b = appendJSONString(b, api+"/users/"+uid)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, uid)
		b = append(b, `,"display":`...)
		b = appendJSONString(b, userDefs[u].display)
		b = append(b, `,"cloudUid":`...)
		b = appendJSONString(b, cloudUID(u))
		b = append(b, `,"passportUid":`...)
		b = append(b, uid...)
		rs.user = append(rs.user, append(b, '}'))
	}
	for i, d := range componentDefs {
		id := itoa(i + 1)
		rs.comp = append(rs.comp, keyedRef(api, "/components/"+id, id, "", d.name))
	}
	for i, d := range sprintDefs {
		id := itoa(i + 1)
		rs.sprint = append(rs.sprint, keyedRef(api, "/sprints/"+id, id, "", d.name))
	}
	for i, d := range projectDefs {
		if v3 {
			b := append([]byte(nil), `{"primary":`...)
			b = append(b, keyedRef(api, "/entities/project/"+d.hex, d.hex, "", d.name)...)
			rs.project = append(rs.project, append(b, '}'))
		} else {
			id := itoa(i + 1)
			rs.project = append(rs.project, keyedRef(api, "/projects/"+id, id, "", d.name))
		}
	}
	for f := range numFields {
		d := fieldDefs[f]
		path := "/fields/" + d.id
		if isLocalField(f) {
			lf := localFieldDefs[f-fTeamDEV]
			path = "/queues/" + queueDefs[lf.queue].key + "/localFields/" + lf.key
		}
		rs.field = append(rs.field, keyedRef(api, path, d.id, "", d.name[lang]))
	}
	return rs
}

// appendIssueRef appends {self,id,key,display} of an issue.
func (rs *refSet) appendIssueRef(b []byte, key, id string, summary value) []byte {
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+key)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"display":`...)
	b = appendTextValue(b, summary)
	return append(b, '}')
}

func appendTextValue(b []byte, v value) []byte {
	if v.k == vString {
		return appendJSONString(b, v.s)
	}
	var buf [512]byte
	raw := appendText(buf[:0], uint64(v.n), int(v.f))
	return appendJSONBytesString(b, raw)
}

func appendRefList(b []byte, refs [][]byte, l []int32) []byte {
	b = append(b, '[')
	for i, x := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, refs[x]...)
	}
	return append(b, ']')
}

// appendValue appends a field value in its wire form.
func (rs *refSet) appendValue(b []byte, v value) []byte {
	switch v.k {
	case vNull:
		return append(b, "null"...)
	case vStatus:
		return append(b, rs.status[v.n]...)
	case vUser:
		return append(b, rs.user[v.n]...)
	case vUsers:
		return appendRefList(b, rs.user, v.list)
	case vTags:
		b = append(b, '[')
		for i, t := range v.list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, tagBank[t])
		}
		return append(b, ']')
	case vText:
		return appendTextValue(b, v)
	case vString:
		return appendJSONString(b, v.s)
	case vNum:
		return strconv.AppendFloat(b, v.f, 'f', -1, 64)
	case vTime:
		return appendTime(b, v.n)
	case vDate:
		return appendDate(b, v.n)
	case vPriority:
		return append(b, rs.prio[v.n]...)
	case vType:
		return append(b, rs.typ[v.n]...)
	case vResolution:
		return append(b, rs.res[v.n]...)
	case vQueue:
		return append(b, rs.queue[v.n]...)
	case vComponents:
		return appendRefList(b, rs.comp, v.list)
	case vSprints:
		return appendRefList(b, rs.sprint, v.list)
	case vTeam:
		return appendJSONString(b, localFieldDefs[int(v.f)].options[v.n])
	case vDuration:
		return appendJSONString(b, formatDuration(v.n))
	}
	return append(b, "null"...)
}

// appendIssue appends the full issue object (§3.2).
func (s *Server) appendIssue(b []byte, rs *refSet, iss *issue) []byte {
	b = s.appendIssueHead(b, rs, iss)
	b = s.appendIssueStatus(b, rs, iss)
	b = s.appendIssueWork(b, rs, iss)
	return append(b, '}')
}

// appendIssueHead opens the issue object and appends its identity,
// summary, classification, people and queue.
func (s *Server) appendIssueHead(b []byte, rs *refSet, iss *issue) []byte {
	st := &iss.st
	b = append(b, `{"self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key)
	b = append(b, `,"id":"`...)
	b = append(b, iss.id...)
	b = append(b, `","key":`...)
	b = appendJSONString(b, iss.key)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(iss.version()), 10)
	if st.lastCommentAt > 0 {
		b = append(b, `,"lastCommentUpdatedAt":`...)
		b = appendTime(b, st.lastCommentAt)
	}
	b = append(b, `,"summary":`...)
	b = appendTextValue(b, st.summary)
	if iss.parent >= 0 {
		b = append(b, `,"parent":`...)
		b = s.appendSyntheticRef(b, rs, iss.parent)
	}
	if iss.alias != "" {
		b = append(b, `,"aliases":[`...)
		b = appendJSONString(b, iss.alias)
		b = append(b, `],"previousQueue":`...)
		b = append(b, rs.queue[iss.prevQueue]...)
	}
	b = append(b, `,"updatedBy":`...)
	b = append(b, rs.user[st.updatedBy]...)
	if !st.description.isNull() {
		b = append(b, `,"description":`...)
		b = appendLongText(b, st.description)
	}
	if len(st.sprints) > 0 {
		b = append(b, `,"sprint":`...)
		b = appendRefList(b, rs.sprint, st.sprints)
	}
	b = append(b, `,"type":`...)
	b = append(b, rs.typ[st.typ]...)
	b = append(b, `,"priority":`...)
	b = append(b, rs.prio[st.prio]...)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, iss.createdAt)
	if len(st.followers) > 0 {
		b = append(b, `,"followers":`...)
		b = appendRefList(b, rs.user, st.followers)
	}
	b = append(b, `,"createdBy":`...)
	b = append(b, rs.user[iss.createdBy]...)
	b = append(b, `,"votes":`...)
	b = strconv.AppendInt(b, int64(iss.votes), 10)
	if st.assignee >= 0 {
		b = append(b, `,"assignee":`...)
		b = append(b, rs.user[st.assignee]...)
	}
	b = append(b, `,"queue":`...)
	b = append(b, rs.queue[st.queue]...)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, iss.updatedAt)
	return b
}

// appendIssueStatus appends the issue's status and the fields that place
// it: tags, components, project and epic.
func (s *Server) appendIssueStatus(b []byte, rs *refSet, iss *issue) []byte {
	st := &iss.st
	b = append(b, `,"status":`...)
	b = append(b, rs.status[st.status]...)
	b = append(b, `,"statusType":`...)
	b = append(b, rs.statusType[st.status]...)
	if st.prevStatus >= 0 {
		b = append(b, `,"previousStatus":`...)
		b = append(b, rs.status[st.prevStatus]...)
	}
	b = append(b, `,"statusStartTime":`...)
	b = appendTime(b, st.statusStart)
	b = append(b, `,"favorite":`...)
	b = strconv.AppendBool(b, iss.favorite)
	if len(st.tags) > 0 {
		b = append(b, `,"tags":`...)
		b = rs.appendValue(b, value{k: vTags, list: st.tags})
	}
	if len(st.comps) > 0 {
		b = append(b, `,"components":`...)
		b = appendRefList(b, rs.comp, st.comps)
	}
	if iss.project >= 0 {
		b = append(b, `,"project":`...)
		b = append(b, rs.project[iss.project]...)
	}
	if iss.epic >= 0 {
		b = append(b, `,"epic":`...)
		b = s.appendSyntheticRef(b, rs, iss.epic)
	}
	return b
}

// appendIssueWork appends the planning and time-tracking fields, the
// resolution, the local team field and the comment counts.
func (s *Server) appendIssueWork(b []byte, rs *refSet, iss *issue) []byte {
	st := &iss.st
	if st.hasSP {
		b = append(b, `,"storyPoints":`...)
		b = strconv.AppendFloat(b, st.sp, 'f', -1, 64)
	}
	if st.deadline >= 0 {
		b = append(b, `,"deadline":`...)
		b = appendDate(b, st.deadline)
	}
	if iss.start >= 0 {
		b = append(b, `,"start":`...)
		b = appendDate(b, iss.start)
		b = append(b, `,"end":`...)
		b = appendDate(b, iss.end)
	}
	if st.spent > 0 {
		b = append(b, `,"spent":`...)
		b = appendJSONString(b, formatDuration(st.spent))
	}
	if st.est > 0 {
		b = append(b, `,"estimation":`...)
		b = appendJSONString(b, formatDuration(st.est))
	}
	if st.origEst > 0 {
		b = append(b, `,"originalEstimation":`...)
		b = appendJSONString(b, formatDuration(st.origEst))
	}
	if st.res >= 0 {
		b = append(b, `,"resolution":`...)
		b = append(b, rs.res[st.res]...)
		b = append(b, `,"resolvedAt":`...)
		b = appendTime(b, st.resAt)
		b = append(b, `,"resolvedBy":`...)
		b = append(b, rs.user[st.resBy]...)
	}
	if st.qa >= 0 {
		b = append(b, `,"qaEngineer":`...)
		b = append(b, rs.user[st.qa]...)
	}
	if st.team >= 0 {
		if lf := s.queueLocalField(st.queue); lf >= 0 {
			b = appendKey(b, false, localFieldDefs[lf].id)
			b = appendJSONString(b, localFieldDefs[lf].options[st.team])
		}
	}
	if len(st.sprints) > 0 {
		b = append(b, `,"boards":[{"id":1}]`...)
	}
	b = append(b, `,"commentWithoutExternalMessageCount":`...)
	b = strconv.AppendInt(b, int64(st.comments), 10)
	b = append(b, `,"commentWithExternalMessageCount":`...)
	b = strconv.AppendInt(b, int64(st.emailComments), 10)
	return b
}

func appendLongText(b []byte, v value) []byte {
	if v.k != vText || int(v.f) != textLong {
		return appendTextValue(b, v)
	}
	raw := appendText(make([]byte, 0, 20_000), uint64(v.n), textLong)
	return appendJSONBytesString(b, raw)
}

func (s *Server) queueLocalField(q int) int {
	if q < len(queueDefs) {
		return queueDefs[q].localField
	}
	return -1
}

// appendSyntheticRef appends the reference to synthetic issue j (parents
// and epics, whose summary never changes).
func (s *Server) appendSyntheticRef(b []byte, rs *refSet, j int) []byte {
	created := s.header(j).created
	_, cur, _ := s.queuesOf(j)
	key := s.synthKey(cur, j+1)
	h := mix(s.seed^saltGen, uint64(j))
	return rs.appendIssueRef(b, key, s.issueID(created, uint32(j)), textV(mix(h, saltText), textSummary))
}

// appendEntry appends one changelog entry (§4.3); issueRef is the rendered
// reference of the issue.
func (s *Server) appendEntry(b []byte, rs *refSet, iss *issue, issueRef []byte, e *entry) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, e.id...)
	b = append(b, `","self":`...)
	b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/changelog/"+e.id)
	b = append(b, `,"issue":`...)
	b = append(b, issueRef...)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, e.at)
	b = append(b, `,"updatedBy":`...)
	b = append(b, rs.user[e.by]...)
	b = append(b, `,"type":"`...)
	b = append(b, entryTypeNames[e.typ]...)
	b = append(b, `","transport":`...)
	if e.api {
		b = append(b, `"api"`...)
	} else {
		b = append(b, `"front"`...)
	}
	if len(e.fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i := range e.fields {
			fc := &e.fields[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"field":`...)
			b = append(b, rs.field[fc.f]...)
			b = append(b, `,"from":`...)
			b = rs.appendChangeValue(b, fc.from)
			b = append(b, `,"to":`...)
			b = rs.appendChangeValue(b, fc.to)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.commentID > 0 {
		b = s.appendCommentChange(b, rs, iss, e)
	}
	if e.x != nil && (e.typ == etWorklogAdded || e.typ == etWorklogUpdated || e.typ == etWorklogRemoved) {
		b = s.appendWorklogChange(b, rs, iss, e)
	}
	if e.x != nil && (e.typ == etLinked || e.typ == etLinkChanged || e.typ == etUnlinked) {
		b = s.appendLinkChange(b, rs, e)
	}
	if e.attachID > 0 {
		aid := strconv.FormatInt(e.attachID, 10)
		b = append(b, `,"attachments":{"added":[{"self":`...)
		b = appendJSONString(b, rs.api+"/issues/"+iss.key+"/attachments/"+aid)
		b = append(b, `,"id":"`...)
		b = append(b, aid...)
		b = append(b, `","display":"screenshot-`...)
		b = append(b, aid...)
		b = append(b, `.png"}]}`...)
	}
	if e.trigger {
		b = append(b, `,"executedTriggers":[{"trigger":{"self":`...)
		b = appendJSONString(b, rs.api+"/queues/"+iss.key[:indexByte(iss.key, '-')]+"/triggers/7")
		b = append(b, `,"id":"7","display":"Notify followers"},"success":true,"message":"Success"}]`...)
	}
	return append(b, '}')
}

func (rs *refSet) appendChangeValue(b []byte, v value) []byte {
	if v.k == vText && int(v.f) == textLong {
		return appendLongText(b, v)
	}
	return rs.appendValue(b, v)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}
