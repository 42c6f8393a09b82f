package trackertest

// Synthetic data. Issue i is a pure function of (Seed, i): every value below
// is drawn from hash streams keyed by both, with integer arithmetic only, so
// the same seed gives the same bytes on every platform. Nothing is generated
// until a request needs it; the few cheap per-issue facts needed to filter
// and sort (updatedAt, queue, key, createdAt, entry count) are computed from
// their own hash streams without generating the changelog.

// Salts of the independent hash streams.
const (
	saltUpdated uint64 = 0x7570_6461_7465_6400 + iota
	saltQueue
	saltCount
	saltLife
	saltGen
	saltTimes
	saltID
	saltText
	saltFault
	saltScroll
	saltActivity // worklogs, estimates and busy comments (activity.go)
	saltComment  // quiet issues and comment edits/removals
	saltCText    // edited comment texts, long comments
	saltWork     // worklog comments
	saltLink     // link pairs
	saltLong     // comment longIds
)

func fmix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// mix hashes two words into one.
func mix(a, b uint64) uint64 {
	return fmix(fmix(a+0x9e3779b97f4a7c15) ^ (b * 0xd6e8feb86659fd93))
}

// rng is a splitmix64 generator: tiny, fast and fully specified here.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return fmix(r.s)
}

// intn returns a value in [0, n); n must be in (0, 2^32).
func (r *rng) intn(n int) int { return int(((r.next() >> 32) * uint64(n)) >> 32) }

// int63n returns a value in [0, n); n must be positive.
func (r *rng) int63n(n int64) int64 { return int64(r.next() % uint64(n)) }

func (r *rng) chance(pct int) bool { return r.intn(100) < pct }

func (r *rng) weighted(ws []int) int {
	total := 0
	for _, w := range ws {
		total += w
	}
	x := r.intn(total)
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return len(ws) - 1
}

func (r *rng) move(ms []move) int {
	total := 0
	for _, m := range ms {
		total += m.weight
	}
	x := r.intn(total)
	for _, m := range ms {
		if x < m.weight {
			return m.to
		}
		x -= m.weight
	}
	return ms[len(ms)-1].to
}

const (
	msPerMinute = 60 * 1000
	msPerDay    = 24 * 60 * msPerMinute
)

// header holds the cheap facts of a synthetic issue.
type header struct {
	h       uint64
	updated int64 // unix ms
	created int64
	n       int // changelog entries
	origQ   int
	curQ    int
	moved   bool
}

// updatedOf is the updatedAt (unix ms) of synthetic issue i: strictly
// increasing with i, spread over the two years before Now.
func (s *Server) updatedOf(i int) int64 {
	return s.baseStart + int64(i)*s.step + int64(mix(s.seed^saltUpdated, uint64(i))%uint64(s.step))
}

// queuesOf returns the original and current queue of issue i; about 4% of
// the issues were moved to another queue.
func (s *Server) queuesOf(i int) (orig, cur int, moved bool) {
	h := mix(s.seed^saltQueue, uint64(i))
	x := int(h % 100)
	for q := range queueDefs {
		if x < queueDefs[q].weight {
			orig = q
			break
		}
		x -= queueDefs[q].weight
	}
	cur = orig
	if (h>>16)%100 < 4 {
		moved = true
		cur = (orig + 1 + int((h>>32)%uint64(len(queueDefs)-1))) % len(queueDefs)
	}
	return orig, cur, moved
}

// countOf is the number of changelog entries of issue i: about 25 on
// average with a long tail. Every 100th issue (i%100 == 50) has 201–400
// entries and every 1000th (i%1000 == 500) 501–800.
func (s *Server) countOf(i int, moved bool) int {
	r := rng{mix(s.seed^saltCount, uint64(i))}
	var n int
	switch {
	case i%1000 == 500:
		n = 501 + r.intn(300)
	case i%100 == 50:
		n = 201 + r.intn(200)
	default:
		n = 1
		for n < 180 && r.intn(1000) < 952 {
			n++
		}
	}
	if moved && n < 3 {
		n = 3
	}
	if isBusy(i) && n < 10 {
		n = 10 // room for the many comments or worklogs of a busy issue
	}
	return n
}

// gapMinutes is a roughly geometric table of mean gaps between entries.
var gapMinutes = [...]int64{20, 28, 40, 57, 80, 113, 160, 226, 320, 453, 640, 905, 1280, 1810, 2560, 3620, 4320}

func (s *Server) header(i int) header {
	hd := header{h: mix(s.seed^saltGen, uint64(i))}
	hd.updated = s.updatedOf(i)
	hd.origQ, hd.curQ, hd.moved = s.queuesOf(i)
	hd.n = s.countOf(i, hd.moved)
	hd.created = hd.updated
	if hd.n > 1 {
		r := rng{mix(s.seed^saltLife, uint64(i))}
		k := r.intn(len(gapMinutes) - 1)
		lo, hi := gapMinutes[k], gapMinutes[k+1]
		gap := (lo + (hi-lo)*int64(r.intn(1024))/1024) * msPerMinute
		hd.created = hd.updated - int64(hd.n-1)*gap - int64(r.intn(3*60))*msPerMinute
	}
	return hd
}

// entryTimes spreads n entry times over [created, updated]: the first is
// created, the last updated, all strictly increasing by at least 1 ms.
func entryTimes(hd header) []int64 {
	t := make([]int64, hd.n)
	t[0] = hd.created
	if hd.n == 1 {
		return t
	}
	r := rng{mix(hd.h, saltTimes)}
	w := make([]int64, hd.n)
	var total int64
	for k := 1; k < hd.n; k++ {
		x := int64(1 + r.intn(1000))
		if r.intn(10) == 0 {
			x *= 8
		}
		total += x
		w[k] = total
	}
	life := hd.updated - hd.created
	for k := 1; k < hd.n; k++ {
		// life·w/total without overflow: life < 2^41, w ≤ 8·10^3·800 < 2^23.
		v := hd.created + life/total*w[k] + (life%total)*w[k]/total
		if v <= t[k-1] {
			v = t[k-1] + 1
		}
		if maxV := hd.updated - int64(hd.n-1-k); v > maxV {
			v = maxV
		}
		t[k] = v
	}
	t[hd.n-1] = hd.updated
	return t
}

// Value kinds of issue fields and changelog from/to values.
type vkind uint8

const (
	vNull vkind = iota
	vStatus
	vUser
	vUsers
	vTags
	vText // generated text: n = seed, f = textSummary|textShort|textLong
	vString
	vNum
	vTime
	vDate // n = days since the epoch
	vPriority
	vType
	vResolution
	vQueue
	vComponents
	vSprints
	vTeam     // n = option index, f = local field index
	vDuration // n = seconds (a day is 8 hours, a week 5 days)
)

const (
	textSummary     = 1
	textShort       = 2
	textLong        = 3
	textComment     = 4 // the summary of the seed, then 0–2 paragraphs
	textCommentLong = 5 // the summary of the seed, then over 10 000 characters
)

// value is a field value: a directory index, a list of indexes, a number,
// a time or a text reference. Lists are never mutated once shared.
type value struct {
	k    vkind
	n    int64
	f    float64
	s    string
	list []int32
}

var null = value{}

func (v value) isNull() bool { return v.k == vNull }

func statusV(st int) value { return value{k: vStatus, n: int64(st)} }
func userV(u int) value    { return value{k: vUser, n: int64(u)} }
func timeV(ms int64) value { return value{k: vTime, n: ms} }
func strV(s string) value  { return value{k: vString, s: s} }
func textV(seed uint64, kind int) value {
	return value{k: vText, n: int64(seed), f: float64(kind)}
}

func optUser(u int) value {
	if u < 0 {
		return null
	}
	return userV(u)
}

func listV(k vkind, l []int32) value {
	if len(l) == 0 {
		return null
	}
	return value{k: k, list: l}
}

// Changelog entry types.
type entryType uint8

const (
	etCreated entryType = iota
	etUpdated
	etWorkflow
	etMoved
	etCommentAdded
	etAttachmentAdded
	etCommentUpdated
	etCommentRemoved
	etWorklogAdded
	etWorklogUpdated
	etWorklogRemoved
	etLinked
	etLinkChanged
	etUnlinked
)

var entryTypeNames = [...]string{
	etCreated:         "IssueCreated",
	etUpdated:         "IssueUpdated",
	etWorkflow:        "IssueWorkflow",
	etMoved:           "IssueMoved",
	etCommentAdded:    "IssueCommentAdded",
	etAttachmentAdded: "IssueAttachmentAdded",
	etCommentUpdated:  "IssueCommentUpdated",
	etCommentRemoved:  "IssueCommentRemoved",
	etWorklogAdded:    "IssueWorklogAdded",
	etWorklogUpdated:  "IssueWorklogUpdated",
	etWorklogRemoved:  "IssueWorklogRemoved",
	etLinked:          "IssueLinked",
	etLinkChanged:     "IssueLinkChanged",
	etUnlinked:        "IssueUnlinked",
}

type fieldChange struct {
	f        fieldID
	from, to value
}

type entry struct {
	id        string
	at        int64
	by        int
	typ       entryType
	api       bool  // transport "api" instead of "front"
	trigger   bool  // executedTriggers present
	commentID int64 // the comment added (also by a transition), updated or removed
	attachID  int64
	fields    []fieldChange
	x         *payload // comment, worklog or link details; nil otherwise
}

// payload is what a comment, worklog or link entry says besides its fields.
type payload struct {
	// Comments: the text after the change (added, updated) and before it
	// (updated, removed), and the comment's kind (commentStandard…).
	text, prev value
	ckind      uint8
	// Worklogs: the record and its state before and after the change
	// (ok false: null); text is the record's comment.
	wid      int64
	from, to wlState
	// Links: the link, the other issue, this issue's direction and the
	// link type before and after the change (-1: null).
	lid        int64
	other      int32
	outward    bool
	fromT, toT int8
}

// wlState is a worklog record's duration (seconds) and start (unix ms).
type wlState struct {
	dur, start int64
	ok         bool
}

// state is the current value of an issue's mutable fields.
type state struct {
	status, prevStatus int // prevStatus -1: none
	statusStart        int64
	transitions        int
	summary            value
	description        value
	typ, prio          int
	assignee, qa       int // -1: none
	followers, tags    []int32
	comps, sprints     []int32
	sp                 float64
	hasSP              bool
	deadline           int64 // days; -1: none
	res                int   // -1: unresolved
	resAt              int64
	resBy              int
	team               int // option index, -1: none
	queue              int
	comments           int // live comments without e-mail
	emailComments      int // live incoming/outcoming (e-mail) comments
	lastCommentAt      int64
	updatedBy          int
	spent              int64 // seconds of the live worklogs; 0: none
	est, origEst       int64 // estimation, originalEstimation in seconds; 0: none
}

// issue is one generated (or fixture) issue: static fields, the final state
// and, when recorded, the changelog.
type issue struct {
	ref          int32 // ≥ 0: synthetic index; < 0: fixture -(k+1)
	code         uint32
	id           string
	num          int
	key          string // current key
	alias        string // old key of a moved issue
	prevQueue    int    // -1 if never moved
	createdAt    int64
	updatedAt    int64
	createdBy    int
	project      int // -1: none
	parent, epic int // synthetic index, -1: none
	start, end   int64
	votes        int
	favorite     bool
	st           state
	nEntries     int
	fieldChanges int
	entries      []entry // nil unless recorded
}

func (iss *issue) version() int { return iss.nEntries }

const fixtureCodeBase = 0xF0000000

// appendHex8 appends v as 8 lowercase hex digits.
func appendHex(b []byte, v uint64, digits int) []byte {
	const hexd = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexd[(v>>(4*uint(i)))&15])
	}
	return b
}

func (s *Server) issueID(created int64, code uint32) string {
	b := make([]byte, 0, 24)
	b = appendHex(b, uint64(created/1000), 8)
	b = appendHex(b, uint64(code), 8)
	b = appendHex(b, mix(s.seed^saltID, uint64(code)), 8)
	return string(b)
}

func (s *Server) entryID(at int64, code uint32, ord int) string {
	b := make([]byte, 0, 24)
	b = appendHex(b, uint64(at/1000), 8)
	b = appendHex(b, uint64(code), 8)
	b = appendHex(b, uint64(ord), 4)
	b = appendHex(b, mix(s.seed^saltID^uint64(code)<<20, uint64(ord)), 4)
	return string(b)
}

// builder applies changes to an issue and records them as changelog
// entries when record is set.
type builder struct {
	s      *Server
	iss    *issue
	record bool
	cur    int // index of the entry being built
}

func (b *builder) begin(at int64, by int, typ entryType, api bool) {
	iss := b.iss
	ord := iss.nEntries
	iss.nEntries++
	iss.st.updatedBy = by
	if b.record {
		iss.entries = append(iss.entries, entry{
			id: b.s.entryID(at, iss.code, ord), at: at, by: by, typ: typ, api: api,
		})
		b.cur = len(iss.entries) - 1
	}
}

func (b *builder) entry() *entry {
	if !b.record {
		return nil
	}
	return &b.iss.entries[b.cur]
}

func (b *builder) change(f fieldID, from, to value) {
	b.iss.fieldChanges++
	if b.record {
		e := &b.iss.entries[b.cur]
		e.fields = append(e.fields, fieldChange{f, from, to})
	}
}

// setStatus records a status change in the current entry: status first,
// statusStartTime second (from = the previous start, null on the first
// transition), then resolution, resolvedAt, resolvedBy when the change
// resolves or reopens the issue.
func (b *builder) setStatus(to int, at int64, by int, res int) {
	st := &b.iss.st
	from := st.status
	b.change(fStatus, statusV(from), statusV(to))
	prev := null
	if st.transitions > 0 {
		prev = timeV(st.statusStart)
	}
	b.change(fStatusStartTime, prev, timeV(at))
	switch {
	case isFinal(to) && st.res < 0:
		b.change(fResolution, null, value{k: vResolution, n: int64(res)})
		b.change(fResolvedAt, null, timeV(at))
		b.change(fResolvedBy, null, userV(by))
		st.res, st.resAt, st.resBy = res, at, by
	case !isFinal(to) && st.res >= 0:
		b.change(fResolution, value{k: vResolution, n: int64(st.res)}, null)
		b.change(fResolvedAt, timeV(st.resAt), null)
		b.change(fResolvedBy, userV(st.resBy), null)
		st.res = -1
	}
	st.prevStatus, st.status, st.statusStart = from, to, at
	st.transitions++
}

func pickUser(r *rng) int {
	if r.intn(100) < 3 {
		return firstDeleted + r.intn(numAllUsers-firstDeleted)
	}
	return 1 + r.intn(numDirUsers-1)
}

var storyPointValues = []float64{0.5, 1, 1.5, 2, 3, 5, 8, 13, 2.5, 21}

func pickResolution(r *rng, to int) int {
	if statusDefs[to].typ == StatusTypeCancelled {
		return []int{resWontFix, resDuplicate, 3, 4}[r.intn(4)]
	}
	if r.intn(100) < 90 {
		return resFixed
	}
	return resWontFix
}

// withAdded returns a copy of l with v appended; withRemoved a copy without
// the element at index k.
func withAdded(l []int32, v int32) []int32 {
	out := make([]int32, len(l), len(l)+1)
	copy(out, l)
	return append(out, v)
}

func withRemoved(l []int32, k int) []int32 {
	out := make([]int32, 0, len(l)-1)
	out = append(out, l[:k]...)
	return append(out, l[k+1:]...)
}

func contains(l []int32, v int32) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) synthKey(q, num int) string {
	return queueDefs[q].key + "-" + itoa(num)
}

// cacheSize is the number of slots of the direct-mapped cache of recorded
// synthetic issues.
const cacheSize = 4096

// synthetic returns synthetic issue i, with its changelog when record is
// set. Touched issues are returned as materialized.
func (s *Server) synthetic(i int, record bool) *issue {
	if t := s.touchedIssue(i); t != nil {
		return t
	}
	slot := &s.cache[i%cacheSize]
	if c := slot.Load(); c != nil && int(c.ref) == i {
		return c
	}
	iss := s.generate(i, record)
	if record {
		slot.Store(iss)
	}
	return iss
}

// generate builds synthetic issue i from scratch: its fields at creation,
// then its changelog, which brings them to their current state. Every value
// comes from r (or the issue's other streams) in a fixed order: the order
// of the draws is part of the data.
func (s *Server) generate(i int, record bool) *issue {
	hd := s.header(i)
	r := &rng{mix(hd.h, saltGen)}
	iss := s.newSynthetic(i, &hd)
	genFields(iss, i, &hd, r)
	s.genChangelog(iss, i, &hd, r, record)
	return iss
}

// newSynthetic returns issue i with its identity and empty fields.
func (s *Server) newSynthetic(i int, hd *header) *issue {
	iss := &issue{
		ref: int32(i), code: uint32(i), num: i + 1,
		createdAt: hd.created, updatedAt: hd.updated,
		prevQueue: -1, project: -1, parent: -1, epic: -1, start: -1, end: -1,
	}
	iss.id = s.issueID(hd.created, iss.code)
	iss.key = s.synthKey(hd.origQ, iss.num)
	iss.st = state{prevStatus: -1, assignee: -1, qa: -1, deadline: -1, res: -1, team: -1, queue: hd.origQ}
	return iss
}

// genFields draws the fields of issue i at its creation.
func genFields(iss *issue, i int, hd *header, r *rng) {
	st := &iss.st
	if i%50 == 0 {
		st.typ = typeEpic
	} else {
		st.typ = []int{typeBug, typeTask, typeStory, typeImprovement}[r.weighted([]int{30, 40, 15, 15})]
	}
	st.prio = r.weighted([]int{5, 15, 55, 18, 7})
	iss.createdBy = pickUser(r)
	st.summary = textV(mix(hd.h, saltText), textSummary)
	switch d := r.intn(100); {
	case i%100 == 37:
		st.description = textV(mix(hd.h, saltText+1), textLong)
	case d < 75:
		st.description = textV(mix(hd.h, saltText+1), textShort)
	}
	genPeople(st, r)
	genQueueFields(st, r, &queueDefs[hd.origQ])
	genSchedule(iss, hd, r)
	genRelations(iss, i, r)
	if r.chance(20) {
		iss.votes = 1 + r.intn(5)
	}
	iss.favorite = r.chance(5)
}

// genPeople draws the assignee, followers, tags and story points.
func genPeople(st *state, r *rng) {
	if r.chance(70) {
		st.assignee = pickUser(r)
	}
	for range r.intn(4) {
		if u := int32(pickUser(r)); !contains(st.followers, u) {
			st.followers = append(st.followers, u)
		}
	}
	for range r.intn(3) {
		if t := int32(r.intn(len(tagBank))); !contains(st.tags, t) {
			st.tags = append(st.tags, t)
		}
	}
	if r.chance(40) {
		st.sp, st.hasSP = storyPointValues[r.intn(len(storyPointValues))], true
	}
}

// genQueueFields draws the fields only some queues have: components,
// sprint, QA engineer and the local team field.
func genQueueFields(st *state, r *rng, q *queueDef) {
	if len(q.comps) > 0 && r.chance(50) {
		st.comps = []int32{int32(q.comps[r.intn(len(q.comps))])}
	}
	if q.sprints && r.chance(40) {
		st.sprints = []int32{int32(r.intn(numIssueSprints))}
	}
	if q.workflow == wfDev && r.chance(25) {
		st.qa = pickUser(r)
	}
	if q.localField >= 0 && r.chance(50) {
		st.team = r.intn(len(localFieldDefs[q.localField].options))
	}
}

// genSchedule draws the deadline and the start and end dates.
func genSchedule(iss *issue, hd *header, r *rng) {
	createdDay := hd.created / msPerDay
	if r.chance(20) {
		iss.st.deadline = createdDay + 3 + int64(r.intn(60))
	}
	if r.chance(10) {
		iss.start = createdDay
		iss.end = createdDay + 5 + int64(r.intn(25))
	}
}

// genRelations draws the project, the parent (an issue i%10 == 0 before
// i, never an epic) and the epic (an issue i%50 == 0 before i).
func genRelations(iss *issue, i int, r *rng) {
	if r.chance(25) {
		iss.project = r.intn(len(projectDefs))
	}
	if i%10 != 0 && i >= 10 && r.chance(20) {
		k := i/10 - r.intn(3)
		if k%5 == 0 {
			k--
		}
		if k >= 1 {
			iss.parent = 10 * k
		}
	}
	if iss.st.typ != typeEpic && i > 0 && r.chance(30) {
		k := max(i/50-r.intn(2), 0)
		if j := 50 * k; j < i {
			iss.epic = j
		}
	}
}

// genChangelog generates the changelog of issue i: IssueCreated, then one
// entry per generated time (a move, a transition, a comment slot, an
// attachment or an update), with the extra events of activity merged in.
func (s *Server) genChangelog(iss *issue, i int, hd *header, r *rng, record bool) {
	times := entryTimes(*hd)
	g := &gen{
		s: s, i: i, h: hd.h, r: r, email: queueDefs[hd.origQ].workflow == wfSupport,
		act: s.activity(i, hd, nil), quiet: s.commentsQuiet(i), rc: rng{mix(s.seed^saltComment, uint64(i))},
	}
	moveAt := 0
	if hd.moved {
		moveAt = 1 + r.intn(hd.n-1)
	}
	b := &builder{s: s, iss: iss, record: record}
	g.b = b
	if record {
		iss.entries = make([]entry, 0, hd.n+len(g.act))
	}
	b.begin(times[0], iss.createdBy, etCreated, false)
	b.change(fStatus, null, statusV(stOpen))
	iss.st.status, iss.st.statusStart = stOpen, hd.created
	for k := 1; k < hd.n; k++ {
		at := times[k]
		g.flush(at)
		if k == moveAt {
			s.genMove(b, r, at, hd.curQ)
			continue
		}
		g.step(k, at)
	}
	g.flush(hd.updated + 1)
}

// step generates the k-th entry (not a move) at time at.
func (g *gen) step(k int, at int64) {
	st := &g.b.iss.st
	moves := workflowDefs[queueDefs[st.queue].workflow].moves[st.status]
	p := 40
	if isFinal(st.status) {
		p = 6
	}
	switch roll := g.r.intn(100); {
	case roll < p && len(moves) > 0:
		g.transition(k, at, moves)
	case roll < p+20:
		g.commentSlot(k, at)
	case roll < p+24:
		g.attach(k, at, pickUser(g.r))
	default:
		g.s.genUpdate(g.b, g.r, at, g.i, g.h, k)
	}
}

// slotID is the id of the comment or attachment of the k-th entry.
func (g *gen) slotID(k int) int64 { return int64(g.i)*1024 + int64(k) + 1 }

// transition emits an IssueWorkflow entry, by the assignee most of the
// time, sometimes leaving a comment or running a trigger.
func (g *gen) transition(k int, at int64, moves []move) {
	r, b, st := g.r, g.b, &g.b.iss.st
	to := r.move(moves)
	by := pickUser(r)
	if st.assignee >= 0 && r.chance(70) {
		by = st.assignee
	}
	b.begin(at, by, etWorkflow, r.chance(15))
	b.setStatus(to, at, by, pickResolution(r, to))
	if r.chance(10) && !g.quiet {
		g.addComment(g.slotID(k), by, at)
	}
	if r.chance(8) {
		if e := b.entry(); e != nil {
			e.trigger = true
		}
	}
}

// commentSlot emits a comment entry: a new comment, or (from the comment
// stream) an edit or removal of a live one; an attachment in a quiet issue.
func (g *gen) commentSlot(k int, at int64) {
	by, api := pickUser(g.r), g.r.chance(15)
	x := g.rc.intn(100)
	switch {
	case g.quiet:
		g.attach(k, at, by)
	case len(g.live) > 0 && x < 10:
		g.updateComment(g.rc.intn(len(g.live)), at, api)
	case len(g.live) > 0 && x < 16:
		g.removeComment(g.rc.intn(len(g.live)), at, api)
	default:
		g.b.begin(at, by, etCommentAdded, api)
		g.addComment(g.slotID(k), by, at)
	}
}

// attach emits an IssueAttachmentAdded entry.
func (g *gen) attach(k int, at int64, by int) {
	g.b.begin(at, by, etAttachmentAdded, false)
	if e := g.b.entry(); e != nil {
		e.attachID = g.slotID(k)
	}
}

// genMove emits the IssueMoved entry: key and queue change; the old queue's
// local field and components are dropped; a status the new queue's workflow
// lacks is reset to "open" in the same entry.
func (s *Server) genMove(b *builder, r *rng, at int64, newQ int) {
	iss := b.iss
	st := &iss.st
	oldQ := st.queue
	by := pickUser(r)
	b.begin(at, by, etMoved, false)
	newKey := s.synthKey(newQ, iss.num)
	b.change(fKey, strV(iss.key), strV(newKey))
	b.change(fQueue, value{k: vQueue, n: int64(oldQ)}, value{k: vQueue, n: int64(newQ)})
	if lf := queueDefs[oldQ].localField; lf >= 0 && st.team >= 0 {
		b.change(fTeamDEV+fieldID(lf), value{k: vTeam, n: int64(st.team), f: float64(lf)}, null)
		st.team = -1
	}
	if len(st.comps) > 0 {
		b.change(fComponents, listV(vComponents, st.comps), null)
		st.comps = nil
	}
	if _, ok := workflowDefs[queueDefs[newQ].workflow].moves[st.status]; !ok {
		b.setStatus(stOpen, at, by, -1)
	}
	iss.alias, iss.prevQueue, iss.key, st.queue = iss.key, oldQ, newKey, newQ
}

// genUpdate emits an IssueUpdated entry changing one to three fields.
func (s *Server) genUpdate(b *builder, r *rng, at int64, i int, h uint64, k int) {
	st := &b.iss.st
	q := &queueDefs[st.queue]
	type cand struct {
		f fieldID
		w int
	}
	var cands [16]cand
	n := 0
	add := func(f fieldID, w int) { cands[n] = cand{f, w}; n++ }
	if i%10 != 0 {
		add(fSummary, 8)
	}
	add(fDescription, 10)
	add(fAssignee, 14)
	add(fFollowers, 14)
	add(fTags, 12)
	add(fStoryPoints, 10)
	add(fPriority, 8)
	if st.typ != typeEpic {
		add(fType, 3)
	}
	add(fDeadline, 6)
	if len(q.comps) > 0 {
		add(fComponents, 5)
	}
	if q.sprints {
		add(fSprint, 6)
	}
	if q.workflow == wfDev {
		add(fQAEngineer, 4)
	}
	if q.localField >= 0 {
		add(fTeamDEV+fieldID(q.localField), 5)
	}
	count := 1 + r.weighted([]int{70, 22, 8})
	b.begin(at, pickUser(r), etUpdated, r.chance(15))
	for c := 0; c < count && n > 0; c++ {
		total := 0
		for _, cd := range cands[:n] {
			total += cd.w
		}
		j, x := 0, r.intn(total)
		for x >= cands[j].w {
			x -= cands[j].w
			j++
		}
		f := cands[j].f
		cands[j] = cands[n-1]
		n--
		s.genFieldChange(b, r, f, h, k, q)
	}
}

// genFieldChange records, in the entry just begun, a change of field f to a
// value drawn from r; h and k seed the new texts, q is the current queue.
func (s *Server) genFieldChange(b *builder, r *rng, f fieldID, h uint64, k int, q *queueDef) {
	st := &b.iss.st
	switch f {
	case fSummary:
		to := textV(mix(h, saltText+uint64(2*k+2)), textSummary)
		b.change(f, st.summary, to)
		st.summary = to
	case fDescription:
		genDescription(b, r, mix(h, saltText+uint64(2*k+3)))
	case fAssignee:
		st.assignee = genUser(b, r, f, st.assignee, 10)
	case fQAEngineer:
		st.qa = genUser(b, r, f, st.qa, 20)
	case fFollowers:
		u := int32(pickUser(r))
		st.followers = genToggle(b, r, f, vUsers, st.followers, u)
	case fTags:
		t := int32(r.intn(len(tagBank)))
		st.tags = genToggle(b, r, f, vTags, st.tags, t)
	case fStoryPoints:
		genStoryPoints(b, r)
	case fPriority:
		to := (st.prio + 1 + r.intn(len(priorityDefs)-1)) % len(priorityDefs)
		b.change(f, value{k: vPriority, n: int64(st.prio)}, value{k: vPriority, n: int64(to)})
		st.prio = to
	case fType:
		genType(b, r)
	case fDeadline:
		genDeadline(b, r)
	case fComponents:
		genComponents(b, r, q)
	case fSprint:
		genSprint(b, r)
	default: // local team field of the current queue
		genTeam(b, r, f)
	}
}

// genDescription changes the description: a first one, a new long one for
// a long one, else removed (15%) or a new short one; seed seeds the text.
func genDescription(b *builder, r *rng, seed uint64) {
	st := &b.iss.st
	var to value
	switch {
	case st.description.isNull():
		to = textV(seed, textShort)
	case int(st.description.f) == textLong:
		to = textV(seed, textLong)
	case r.chance(15):
		to = null
	default:
		to = textV(seed, textShort)
	}
	b.change(fDescription, st.description, to)
	st.description = to
}

// genUser changes user field f from cur (-1: none) and returns the new
// user: a random one, or none when it equals cur or, with probability
// clearPct, whenever one is set.
func genUser(b *builder, r *rng, f fieldID, cur, clearPct int) int {
	to := pickUser(r)
	if cur >= 0 && (to == cur || r.chance(clearPct)) {
		to = -1
	}
	b.change(f, optUser(cur), optUser(to))
	return to
}

// genToggle changes list field f (values of kind k) from cur and returns
// the new list: x is added to an empty list, or with probability 60% when
// absent; otherwise a random member is removed.
func genToggle(b *builder, r *rng, f fieldID, k vkind, cur []int32, x int32) []int32 {
	to := cur
	if len(to) == 0 || (r.chance(60) && !contains(to, x)) {
		if !contains(to, x) {
			to = withAdded(to, x)
		}
	} else {
		to = withRemoved(to, r.intn(len(to)))
	}
	b.change(f, listV(k, cur), listV(k, to))
	return to
}

// genStoryPoints clears the story points (10% when set) or sets a value
// different from the current one.
func genStoryPoints(b *builder, r *rng) {
	st := &b.iss.st
	from := null
	if st.hasSP {
		from = value{k: vNum, f: st.sp}
	}
	if st.hasSP && r.chance(10) {
		b.change(fStoryPoints, from, null)
		st.hasSP = false
		return
	}
	v := storyPointValues[r.intn(len(storyPointValues))]
	if st.hasSP && v == st.sp {
		v = storyPointValues[(r.intn(len(storyPointValues)-1)+1+indexOf(st.sp))%len(storyPointValues)]
	}
	b.change(fStoryPoints, from, value{k: vNum, f: v})
	st.sp, st.hasSP = v, true
}

// genType changes the issue type to another of bug, task, story and
// improvement.
func genType(b *builder, r *rng) {
	st := &b.iss.st
	opts := []int{typeBug, typeTask, typeStory, typeImprovement}
	to := opts[r.intn(len(opts))]
	if to == st.typ {
		to = opts[(indexOfInt(opts, to)+1)%len(opts)]
	}
	b.change(fType, value{k: vType, n: int64(st.typ)}, value{k: vType, n: int64(to)})
	st.typ = to
}

// genDeadline clears the deadline (15% when set) or moves it to another
// day 3 to 92 days after the creation.
func genDeadline(b *builder, r *rng) {
	st := &b.iss.st
	from := null
	if st.deadline >= 0 {
		from = value{k: vDate, n: st.deadline}
	}
	if st.deadline >= 0 && r.chance(15) {
		b.change(fDeadline, from, null)
		st.deadline = -1
		return
	}
	to := b.iss.createdAt/msPerDay + 3 + int64(r.intn(90))
	if to == st.deadline {
		to++
	}
	b.change(fDeadline, from, value{k: vDate, n: to})
	st.deadline = to
}

// genComponents adds or removes one component of queue q.
func genComponents(b *builder, r *rng, q *queueDef) {
	st := &b.iss.st
	c := int32(q.comps[r.intn(len(q.comps))])
	var to []int32
	if k := indexOf32(st.comps, c); k >= 0 {
		to = withRemoved(st.comps, k)
	} else {
		to = withAdded(st.comps, c)
	}
	b.change(fComponents, listV(vComponents, st.comps), listV(vComponents, to))
	st.comps = to
}

// genSprint moves the issue to another single sprint.
func genSprint(b *builder, r *rng) {
	st := &b.iss.st
	sp := int32(r.intn(numIssueSprints))
	if len(st.sprints) == 1 && st.sprints[0] == sp {
		sp = (sp + 1) % numIssueSprints
	}
	to := []int32{sp}
	b.change(fSprint, listV(vSprints, st.sprints), listV(vSprints, to))
	st.sprints = to
}

// genTeam sets local team field f to another of its options.
func genTeam(b *builder, r *rng, f fieldID) {
	st := &b.iss.st
	lf := int(f - fTeamDEV)
	opts := len(localFieldDefs[lf].options)
	to := r.intn(opts)
	if to == st.team {
		to = (to + 1) % opts
	}
	from := null
	if st.team >= 0 {
		from = value{k: vTeam, n: int64(st.team), f: float64(lf)}
	}
	b.change(f, from, value{k: vTeam, n: int64(to), f: float64(lf)})
	st.team = to
}

func indexOf(v float64) int {
	for i, x := range storyPointValues {
		if x == v {
			return i
		}
	}
	return 0
}

func indexOfInt(l []int, v int) int {
	for i, x := range l {
		if x == v {
			return i
		}
	}
	return -1
}

func indexOf32(l []int32, v int32) int {
	for i, x := range l {
		if x == v {
			return i
		}
	}
	return -1
}
