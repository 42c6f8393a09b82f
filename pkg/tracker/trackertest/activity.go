package trackertest

import (
	"fmt"
	"slices"
	"strconv"
)

// Comments, worklogs, estimates and links. They are changelog events like
// any other: an issue's comments, worklogs and links are derived from its
// changelog (derive), so whatever an endpoint lists was announced by the
// changelog of that issue, and mutations only append entries.
//
// Comments come from the generator's comment slots (etCommentAdded, a
// transition's comment): a separate stream (saltComment) turns some slots
// into edits or removals of an earlier comment, and, in the "quiet" issues,
// every slot into an attachment, so that most issues have no comments.
// The other events (worklogs, estimates, the comments of busy issues,
// links) are extra entries merged by time into the generated changelog;
// their number is a cheap pure function of (Seed, i) (activity), and they
// never touch the main stream, so the rest of the issue is unchanged.

// isBusy tells the issues with more than two pages of comments
// (i%500 == 125) or of worklogs (i%500 == 375).
func isBusy(i int) bool { return i%500 == 125 || i%500 == 375 }

// commentsQuiet tells the issues without comments: about 55% of them
// (never the busy ones).
func (s *Server) commentsQuiet(i int) bool {
	if isBusy(i) {
		return false
	}
	return mix(s.seed^saltComment, uint64(i)^0x717569)%100 < 55
}

// Comment kinds: type and transport.
const (
	commentStandard  uint8 = iota // type standard, transport internal
	commentIncoming               // type incoming, transport email
	commentOutcoming              // type outcoming, transport email
)

var commentKindNames = [...][2]string{
	commentStandard:  {"standard", "internal"},
	commentIncoming:  {"incoming", "email"},
	commentOutcoming: {"outcoming", "email"},
}

// Id ranges: generated comments are i·1024+k+1 (k: the entry's position in
// the generated changelog), the extra comments of busy issues start at
// busyCommentBase, worklog records are i·256+w+1, links src·4+slot+1, and
// whatever the mutations add gets mutationIDBase+n.
const (
	busyCommentBase = int64(1) << 42
	mutationIDBase  = int64(1) << 45
)

// commentKind is the kind of a generated comment: e-mail comments (35%)
// exist only in the queues of the support workflow.
func (s *Server) commentKind(id int64, email bool) uint8 {
	if !email {
		return commentStandard
	}
	h := mix(s.seed^saltComment, uint64(id))
	switch {
	case h%100 >= 35:
		return commentStandard
	case (h>>8)%10 < 6:
		return commentIncoming
	}
	return commentOutcoming
}

// commentText is the text of version v of a generated comment. Version 1
// starts with the display the changelog has always shown; about one
// comment in 64 is longer than 10 000 characters.
func (s *Server) commentText(id int64, version int) value {
	kind := textComment
	if mix(s.seed^saltCText, uint64(id))%64 == 0 {
		kind = textCommentLong
	}
	seed := uint64(id) ^ s.seed
	if version > 1 {
		seed = mix(s.seed^saltCText, uint64(id)<<8|uint64(version))
	}
	return textV(seed, kind)
}

// Worklog durations and estimates, in seconds (a day is 8 hours, a week 5
// days).
var (
	worklogDurations = []int64{
		900, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600,
		workDay, workDay + 2*3600, 2 * workDay, 2*workDay + 3*3600, workWeek,
	}
	estimateValues = []int64{4 * 3600, workDay, 2 * workDay, 3 * workDay, workWeek, workWeek + 2*workDay, 2 * workWeek, 6 * 3600}
)

const (
	workDay  = 8 * 3600
	workWeek = 5 * workDay
)

// formatDuration writes seconds as Tracker does: weeks of 5 days, days of
// 8 hours, then hours, minutes and seconds ("P1W2DT3H", "PT45M"); 0 is
// "PT0S".
func formatDuration(sec int64) string {
	if sec <= 0 {
		return "PT0S"
	}
	w := sec / workWeek
	sec %= workWeek
	d := sec / workDay
	sec %= workDay
	h, m, x := sec/3600, sec%3600/60, sec%60
	b := []byte{'P'}
	if w > 0 {
		b = strconv.AppendInt(b, w, 10)
		b = append(b, 'W')
	}
	if d > 0 {
		b = strconv.AppendInt(b, d, 10)
		b = append(b, 'D')
	}
	if h > 0 || m > 0 || x > 0 {
		b = append(b, 'T')
		for _, p := range []struct {
			n int64
			u byte
		}{{h, 'H'}, {m, 'M'}, {x, 'S'}} {
			if p.n > 0 {
				b = strconv.AppendInt(b, p.n, 10)
				b = append(b, p.u)
			}
		}
	}
	return string(b)
}

// parseDuration reads an ISO 8601 duration with Tracker's meaning (W = 5
// days, D = 8 hours): PnWnDTnHnMnS, each part optional, whole numbers.
func parseDuration(str string) (int64, error) {
	if len(str) < 2 || str[0] != 'P' {
		return 0, fmt.Errorf("duration %q: want ISO 8601 such as PT1H30M", str)
	}
	var total, n int64
	digits, inTime := false, false
	for i := 1; i < len(str); i++ {
		c := str[i]
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits = true
			if n > 1<<40 {
				return 0, fmt.Errorf("duration %q: too long", str)
			}
			continue
		case c == 'T' && !inTime && !digits:
			inTime = true
			continue
		}
		unit := durationUnit(c, inTime)
		if unit == 0 || !digits {
			return 0, fmt.Errorf("duration %q: unexpected %q", str, c)
		}
		total += n * unit
		n, digits = 0, false
	}
	if digits || total <= 0 {
		return 0, fmt.Errorf("duration %q: want a positive ISO 8601 duration such as PT1H30M", str)
	}
	return total, nil
}

// durationUnit is the seconds of duration designator c (W and D before
// the T, H, M and S after it), or 0 if c is none there.
func durationUnit(c byte, inTime bool) int64 {
	if !inTime {
		switch c {
		case 'W':
			return workWeek
		case 'D':
			return workDay
		}
		return 0
	}
	switch c {
	case 'H':
		return 3600
	case 'M':
		return 60
	case 'S':
		return 1
	}
	return 0
}

func durV(sec int64) value {
	if sec <= 0 {
		return null
	}
	return value{k: vDuration, n: sec}
}

// Extra event kinds.
type xkind uint8

const (
	xEstimate   xkind = iota // IssueUpdated: originalEstimation and estimation set
	xReestimate              // IssueUpdated: estimation changed
	xComment                 // IssueCommentAdded (busy issues)
	xWorklogAdd
	xWorklogEdit
	xWorklogRemove
	xLinked
	xLinkChanged
	xUnlinked
)

// xevent is one extra changelog event of a synthetic issue.
type xevent struct {
	at      int64
	kind    xkind
	by      int
	api     bool
	id      int64 // comment, worklog record or link
	a, b    int64 // worklog: duration, start; estimate: seconds; link: type before, after (-1: none)
	other   int32 // link: the other issue
	outward bool
	text    uint64 // worklog comment: the seed of a summary-like text; 0: none
}

// linkPlan is the life of one link between two synthetic issues: made at
// at[0] by by[0], its type changed at at[1] (0: never), removed at at[2]
// (0: never).
type linkPlan struct {
	id        int64
	src, dst  int
	typ, typ2 int // typ2: the type after the change, -1 if none
	at        [3]int64
	by        [3]int
}

// linkPlan returns the link of pair slot `slot` of source issue src, if
// any. The pairs are fixed: src%10 == 3 links to src-1 (slot 0) and
// src%10 == 7 to src-5 (slot 1), so the target (i%10 == 2) knows its links
// from the same rule. A pair is linked with probability 65% when both
// issues live together for at least 10 minutes; every event of the link
// falls strictly inside both lives: after both createdAt, before both
// updatedAt.
func (s *Server) linkPlan(src, slot int, known *header, knownI int) (linkPlan, bool) {
	dst := src - 1
	if slot == 1 {
		dst = src - 5
	}
	if dst < 0 || src >= s.opts.Issues {
		return linkPlan{}, false
	}
	r := rng{mix(s.seed^saltLink, uint64(src)*2+uint64(slot))}
	if !r.chance(65) {
		return linkPlan{}, false
	}
	var hs, hd header
	if knownI == src {
		hs, hd = *known, s.header(dst)
	} else {
		hs, hd = s.header(src), *known
	}
	lo := max(hs.created, hd.created) + 1
	hi := min(hs.updated, hd.updated) - 1
	if hi-lo < 10*msPerMinute {
		return linkPlan{}, false
	}
	p := linkPlan{id: int64(src)*4 + int64(slot) + 1, src: src, dst: dst, typ2: -1}
	p.typ = r.weighted([]int{50, 35, 15})
	p.at[0] = lo + r.int63n((hi-lo)/2+1)
	p.by[0] = pickUser(&r)
	last := p.at[0]
	if r.chance(20) {
		p.typ2 = (p.typ + 1 + r.intn(len(linkTypeDefs)-1)) % len(linkTypeDefs)
		last += 1 + r.int63n(hi-last)
		p.at[1], p.by[1] = last, pickUser(&r)
	}
	if last < hi && r.chance(15) {
		last += 1 + r.int63n(hi-last)
		p.at[2], p.by[2] = last, pickUser(&r)
	}
	return p, true
}

// linkPlans appends the links of synthetic issue i (at most two); hd is
// its header.
func (s *Server) linkPlans(i int, hd *header, out []linkPlan) []linkPlan {
	try := func(src, slot int) {
		if p, ok := s.linkPlan(src, slot, hd, i); ok {
			out = append(out, p)
		}
	}
	switch i % 10 {
	case 3:
		try(i, 0)
	case 7:
		try(i, 1)
	case 2:
		try(i+1, 0)
		try(i+5, 1)
	}
	return out
}

// activity returns the extra events of synthetic issue i, sorted by time
// (stable: equal times keep the order of generation). Every event lies
// strictly between createdAt and updatedAt. About 12% of the issues have
// 1–6 worklog records (some edited or removed), busy worklog issues
// (i%500 == 375) 105–124; 60% of the issues with worklogs and 5% of the
// others have an estimate, some re-estimated; busy comment issues
// (i%500 == 125) get 105–134 extra comments; links follow linkPlan.
func (s *Server) activity(i int, hd *header, out []xevent) []xevent {
	out = out[:0]
	lo, hi := hd.created+1, hd.updated-1
	if hi-lo < 10*msPerMinute {
		return out
	}
	g := activityGen{s: s, i: i, lo: lo, hi: hi, r: rng{mix(s.seed^saltActivity, uint64(i))}, out: out}
	nw := g.worklogs()
	g.estimate(nw)
	if i%500 == 125 {
		g.busyComments()
	}
	g.links(hd)
	slices.SortStableFunc(g.out, func(x, y xevent) int { return cmpInt(x.at, y.at) })
	return g.out
}

// activityGen draws the extra events of one synthetic issue, in the order
// of activity: worklogs, estimate, busy comments, links.
type activityGen struct {
	s      *Server
	i      int
	lo, hi int64 // every event falls in [lo, hi]
	r      rng   // the activity stream (saltActivity); links have their own
	out    []xevent
}

// drawTimes fills ts with random times of [lo, hi], sorted, and returns it.
func (g *activityGen) drawTimes(ts []int64) []int64 {
	for j := range ts {
		ts[j] = g.lo + g.r.int63n(g.hi-g.lo+1)
	}
	slices.Sort(ts)
	return ts
}

// worklogs adds the worklog records and their edits and removals, and
// returns the number of records.
func (g *activityGen) worklogs() int {
	nw := 0
	busy := g.i%500 == 375
	if busy {
		nw = 105 + g.r.intn(20)
	} else if g.r.chance(12) {
		nw = 1 + g.r.weighted([]int{35, 25, 15, 10, 8, 7})
	}
	if nw == 0 {
		return 0
	}
	pe, pr := 15, 8 // % edited, % removed
	if busy {
		pe, pr = 5, 3
	}
	for w, at := range g.drawTimes(make([]int64, nw)) { // ids increase with creation
		g.worklog(w, at, pe, pr)
	}
	return nw
}

// worklog adds record w, made at `at`, then an edit (pe%) and a removal
// (pr%) while time is left.
func (g *activityGen) worklog(w int, at int64, pe, pr int) {
	r := &g.r
	id := int64(g.i)*256 + int64(w) + 1
	by := pickUser(r)
	k := r.intn(len(worklogDurations))
	start := at - r.int63n(3*msPerDay)
	start -= start % msPerMinute
	var text uint64
	if r.chance(70) {
		text = mix(g.s.seed^saltWork, uint64(id)) | 1
	}
	g.out = append(g.out, xevent{at: at, kind: xWorklogAdd, by: by, id: id, a: worklogDurations[k], b: start, text: text})
	last := at
	if last < g.hi && r.chance(pe) {
		nd := worklogDurations[(k+1+r.intn(len(worklogDurations)-1))%len(worklogDurations)]
		last += 1 + r.int63n(g.hi-last)
		g.out = append(g.out, xevent{at: last, kind: xWorklogEdit, by: by, id: id, a: nd, b: start})
	}
	if last < g.hi && r.chance(pr) {
		last += 1 + r.int63n(g.hi-last)
		g.out = append(g.out, xevent{at: last, kind: xWorklogRemove, by: by, id: id})
	}
}

// estimate adds an estimate (60% of the issues with nw > 0 worklog
// records, 5% of the others), re-estimated in 40% of the cases.
func (g *activityGen) estimate(nw int) {
	r := &g.r
	if !(nw > 0 && r.chance(60) || nw == 0 && r.chance(5)) {
		return
	}
	at := g.lo + r.int63n(g.hi-g.lo+1)
	k := r.intn(len(estimateValues))
	g.out = append(g.out, xevent{at: at, kind: xEstimate, by: pickUser(r), a: estimateValues[k]})
	if at < g.hi && r.chance(40) {
		v := estimateValues[(k+1+r.intn(len(estimateValues)-1))%len(estimateValues)]
		at += 1 + r.int63n(g.hi-at)
		g.out = append(g.out, xevent{at: at, kind: xReestimate, by: pickUser(r), a: v})
	}
}

// busyComments adds the 105–134 extra comments of a busy comment issue.
func (g *activityGen) busyComments() {
	nc := 105 + g.r.intn(30)
	for j, at := range g.drawTimes(make([]int64, nc)) {
		g.out = append(g.out, xevent{at: at, kind: xComment, by: pickUser(&g.r), api: g.r.chance(15),
			id: busyCommentBase + int64(g.i)*256 + int64(j) + 1})
	}
}

// links adds the events of the issue's links (linkPlans): made, type
// changed, removed; hd is the issue's header.
func (g *activityGen) links(hd *header) {
	var plans [2]linkPlan
	for _, p := range g.s.linkPlans(g.i, hd, plans[:0]) {
		other, outward := p.dst, true
		if g.i == p.dst {
			other, outward = p.src, false
		}
		ev := xevent{kind: xLinked, at: p.at[0], by: p.by[0], id: p.id, other: int32(other), outward: outward, a: -1, b: int64(p.typ)}
		g.out = append(g.out, ev)
		cur := int64(p.typ)
		if p.at[1] > 0 {
			ev.kind, ev.at, ev.by, ev.a, ev.b = xLinkChanged, p.at[1], p.by[1], cur, int64(p.typ2)
			cur = int64(p.typ2)
			g.out = append(g.out, ev)
		}
		if p.at[2] > 0 {
			ev.kind, ev.at, ev.by, ev.a, ev.b = xUnlinked, p.at[2], p.by[2], cur, -1
			g.out = append(g.out, ev)
		}
	}
}

// entryCount is the number of changelog entries of untouched synthetic
// issue i; buf is scratch space.
func (s *Server) entryCount(i int, buf []xevent) (int, []xevent) {
	hd := s.header(i)
	buf = s.activity(i, &hd, buf)
	return hd.n + len(buf), buf
}

// gen is one issue's generation beyond the builder: its extra events and
// the comments and worklog records alive so far.
type gen struct {
	s     *Server
	b     *builder
	i     int
	h     uint64 // the header's hash
	r     *rng   // the main stream
	rc    rng    // the comment stream: edits and removals
	quiet bool   // comment slots are attachments (commentsQuiet)
	email bool   // the original queue takes e-mail comments
	act   []xevent
	next  int // first event of act not applied yet
	live  []liveComment
	wls   []wlState
	wlIDs []int64
}

// liveComment is a generated comment alive so far; its text is
// commentText(id, version).
type liveComment struct {
	id      int64
	by      int32
	version int32
	kind    uint8
}

// flush applies the extra events before time limit.
func (g *gen) flush(limit int64) {
	for g.next < len(g.act) && g.act[g.next].at < limit {
		g.apply(&g.act[g.next])
		g.next++
	}
}

// addComment records comment id, added by `by` at `at`, in the entry just
// begun (a comment entry or a transition).
func (g *gen) addComment(id int64, by int, at int64) {
	st := &g.b.iss.st
	kind := g.s.commentKind(id, g.email)
	if kind == commentStandard {
		st.comments++
	} else {
		st.emailComments++
	}
	st.lastCommentAt = at
	g.live = append(g.live, liveComment{id: id, by: int32(by), kind: kind, version: 1})
	if e := g.b.entry(); e != nil {
		e.commentID = id
		e.x = &payload{text: g.s.commentText(id, 1), ckind: kind}
	}
}

// updateComment: the author of live comment k edits its text.
func (g *gen) updateComment(k int, at int64, api bool) {
	c := &g.live[k]
	c.version++
	g.b.begin(at, int(c.by), etCommentUpdated, api)
	g.b.iss.st.lastCommentAt = at
	if e := g.b.entry(); e != nil {
		e.commentID = c.id
		e.x = &payload{text: g.s.commentText(c.id, int(c.version)), prev: g.s.commentText(c.id, int(c.version-1)), ckind: c.kind}
	}
}

// removeComment: the author of live comment k removes it.
func (g *gen) removeComment(k int, at int64, api bool) {
	c := g.live[k]
	g.b.begin(at, int(c.by), etCommentRemoved, api)
	st := &g.b.iss.st
	if c.kind == commentStandard {
		st.comments--
	} else {
		st.emailComments--
	}
	if e := g.b.entry(); e != nil {
		e.commentID = c.id
		e.x = &payload{prev: g.s.commentText(c.id, int(c.version)), ckind: c.kind}
	}
	g.live = slices.Delete(g.live, k, k+1)
}

// setSpent records the change of the issue's spent time.
func setSpent(b *builder, to int64) {
	st := &b.iss.st
	b.change(fSpent, durV(st.spent), durV(to))
	st.spent = to
}

func (g *gen) worklog(id int64) int {
	for k, x := range g.wlIDs {
		if x == id {
			return k
		}
	}
	panic("trackertest: worklog event before its record")
}

func (g *gen) apply(x *xevent) {
	b := g.b
	st := &b.iss.st
	switch x.kind {
	case xEstimate:
		b.begin(x.at, x.by, etUpdated, x.api)
		b.change(fOriginalEstimation, durV(st.origEst), durV(x.a))
		b.change(fEstimation, durV(st.est), durV(x.a))
		st.origEst, st.est = x.a, x.a
	case xReestimate:
		b.begin(x.at, x.by, etUpdated, x.api)
		b.change(fEstimation, durV(st.est), durV(x.a))
		st.est = x.a
	case xComment:
		b.begin(x.at, x.by, etCommentAdded, x.api)
		g.addComment(x.id, x.by, x.at)
	case xWorklogAdd:
		b.begin(x.at, x.by, etWorklogAdded, x.api)
		setSpent(b, st.spent+x.a)
		to := wlState{dur: x.a, start: x.b, ok: true}
		g.wls, g.wlIDs = append(g.wls, to), append(g.wlIDs, x.id)
		if e := b.entry(); e != nil {
			e.x = &payload{wid: x.id, to: to}
			if x.text != 0 {
				e.x.text = textV(x.text, textSummary)
			}
		}
	case xWorklogEdit:
		k := g.worklog(x.id)
		from := g.wls[k]
		to := wlState{dur: x.a, start: from.start, ok: true}
		b.begin(x.at, x.by, etWorklogUpdated, x.api)
		setSpent(b, st.spent-from.dur+to.dur)
		g.wls[k] = to
		if e := b.entry(); e != nil {
			e.x = &payload{wid: x.id, from: from, to: to}
		}
	case xWorklogRemove:
		k := g.worklog(x.id)
		from := g.wls[k]
		b.begin(x.at, x.by, etWorklogRemoved, x.api)
		setSpent(b, st.spent-from.dur)
		g.wls, g.wlIDs = slices.Delete(g.wls, k, k+1), slices.Delete(g.wlIDs, k, k+1)
		if e := b.entry(); e != nil {
			e.x = &payload{wid: x.id, from: from}
		}
	case xLinked, xLinkChanged, xUnlinked:
		b.begin(x.at, x.by, etLinked+entryType(x.kind-xLinked), x.api)
		if e := b.entry(); e != nil {
			e.x = &payload{lid: x.id, other: x.other, outward: x.outward, fromT: int8(x.a), toT: int8(x.b)}
		}
	}
}

// Records derived from a changelog.
type commentRec struct {
	id                   int64
	by, updBy            int
	createdAt, updatedAt int64
	version              int
	text                 value
	kind                 uint8
	removed              bool
}

type worklogRec struct {
	id                   int64
	by, updBy            int
	createdAt, updatedAt int64
	version              int
	state                wlState
	comment              value
	removed              bool
}

type linkRec struct {
	id                   int64
	other                int32
	outward              bool
	typ                  int
	by, updBy            int
	createdAt, updatedAt int64
	removed              bool
}

// parts are an issue's comments, worklog records and links, every one it
// ever had (removed ones flagged), in creation order.
type parts struct {
	comments []commentRec
	worklogs []worklogRec
	links    []linkRec
}

// derive reads an issue's parts from its recorded changelog.
func derive(iss *issue) *parts {
	p := &parts{}
	// Positions in p by id: of the comments, worklog records and links.
	ci, wi, li := map[int64]int{}, map[int64]int{}, map[int64]int{}
	for k := range iss.entries {
		e := &iss.entries[k]
		switch e.typ {
		case etCommentAdded, etWorkflow:
			p.commentAdded(e, ci)
		case etCommentUpdated, etCommentRemoved:
			p.commentChanged(e, ci)
		case etWorklogAdded:
			p.worklogAdded(e, wi)
		case etWorklogUpdated, etWorklogRemoved:
			p.worklogChanged(e, wi)
		case etLinked:
			p.linkAdded(e, li)
		case etLinkChanged, etUnlinked:
			p.linkChanged(e, li)
		}
	}
	return p
}

// commentAdded records the comment of a comment entry or a transition, if
// it has one; ci finds comments by id.
func (p *parts) commentAdded(e *entry, ci map[int64]int) {
	if e.commentID == 0 || e.x == nil {
		return
	}
	ci[e.commentID] = len(p.comments)
	p.comments = append(p.comments, commentRec{
		id: e.commentID, by: e.by, updBy: e.by, createdAt: e.at, updatedAt: e.at,
		version: 1, text: e.x.text, kind: e.x.ckind,
	})
}

// commentChanged applies the edit or removal of a known comment.
func (p *parts) commentChanged(e *entry, ci map[int64]int) {
	j, ok := ci[e.commentID]
	if !ok {
		return
	}
	c := &p.comments[j]
	if e.typ == etCommentRemoved {
		c.removed = true
		return
	}
	c.text, c.updBy, c.updatedAt = e.x.text, e.by, e.at
	c.version++
}

// worklogAdded records a new worklog record; wi finds records by id.
func (p *parts) worklogAdded(e *entry, wi map[int64]int) {
	wi[e.x.wid] = len(p.worklogs)
	p.worklogs = append(p.worklogs, worklogRec{
		id: e.x.wid, by: e.by, updBy: e.by, createdAt: e.at, updatedAt: e.at,
		version: 1, state: e.x.to, comment: e.x.text,
	})
}

// worklogChanged applies the edit or removal of a known worklog record.
func (p *parts) worklogChanged(e *entry, wi map[int64]int) {
	j, ok := wi[e.x.wid]
	if !ok {
		return
	}
	w := &p.worklogs[j]
	if e.typ == etWorklogRemoved {
		w.removed = true
		return
	}
	w.state, w.updBy, w.updatedAt = e.x.to, e.by, e.at
	w.version++
}

// linkAdded records a new link; li finds links by id.
func (p *parts) linkAdded(e *entry, li map[int64]int) {
	li[e.x.lid] = len(p.links)
	p.links = append(p.links, linkRec{
		id: e.x.lid, other: e.x.other, outward: e.x.outward, typ: int(e.x.toT),
		by: e.by, updBy: e.by, createdAt: e.at, updatedAt: e.at,
	})
}

// linkChanged applies the type change or removal of a known link.
func (p *parts) linkChanged(e *entry, li map[int64]int) {
	j, ok := li[e.x.lid]
	if !ok {
		return
	}
	l := &p.links[j]
	if e.typ == etUnlinked {
		l.removed = true
		return
	}
	l.typ, l.updBy, l.updatedAt = int(e.x.toT), e.by, e.at
}
