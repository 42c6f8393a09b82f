// Package trackertest is a deterministic HTTP emulator of the Yandex
// Tracker API (shared/tracker-api.md), used by the tests, benchmarks and
// demo with the project's real client.
//
//	s := trackertest.New(trackertest.Options{Issues: 100_000, Seed: 1})
//	base := s.Start() // http://127.0.0.1:PORT, without /v2
//	defer s.Close()
//
// # Data
//
// Synthetic issue i (0 ≤ i < Options.Issues) is a pure function of
// (Seed, i), generated on demand from integer hash streams (the same bytes on
// every platform) and kept only in a small direct-mapped cache, so 100 000
// issues cost almost no memory. Its updatedAt increases strictly with i over
// [Now−730d, Now−1h]; createdAt ≤ every changelog entry ≤ updatedAt, and the
// last entry is at updatedAt. Its key is QUEUE-(i+1): numbers are unique
// across queues, with gaps inside each queue, and a moved issue keeps its
// number. Six queues (DEV, TEST with the "dev" workflow; SRE, OPS with
// "ops"; SUP, TRASH with "support"); eleven statuses covering the five types,
// including open (new), inProgress and testing (inProgress),
// readyForRelease (paused) and closed (done). Changelogs hold about 25
// entries on average; every issue with i%100 == 50 has 201–400 generated
// entries and every i%1000 == 500 501–800, plus their worklog, estimate and
// link entries; the busy issues (i%500 == 125 or 375) have at least 10
// generated entries plus over 100 comment or worklog entries. About 4% of
// the issues were moved. Issues
// with i%10 == 0 never change their summary (they are the parents and, for
// i%50 == 0, the epics other issues refer to). Descriptions of i%100 == 37
// exceed 10 000 characters.
//
// Users: index 0 is the robot behind the token (/myself); 1–49 are the
// directory (uid 1130000000000001+index); 8, 19, 30 and 41 are dismissed.
// Users with uids 1130000000000051–1130000000000055 are deleted: issues and
// changelogs reference them (about 3% of user picks) but /users does not
// list them and /users/{uid} answers 404. Users returns all of them.
//
// Comments, worklogs and links are changelog events: an issue's
// /comments, /worklog and /links are derived from its own changelog, so
// every item an endpoint lists (or listed before its removal) is announced
// there, and an issue whose changelog mentions none has none. About 63% of
// the issues have no comments ("quiet" issues, 55%, turn their comment
// slots into IssueAttachmentAdded entries), 89% no worklogs and 85% no
// links. Comments come from IssueCommentAdded entries and from transitions
// that leave one (an IssueWorkflow entry with comments.added); about 10%
// of the later comment slots edit an earlier comment instead
// (IssueCommentUpdated) and 6% remove one (IssueCommentRemoved). Texts are
// English, Russian, Chinese, emoji and JSON-hostile characters; one comment
// in 64 exceeds 10 000 characters. In the queues of the support workflow
// (SUP, TRASH) 35% of the comments are e-mail (incoming or outcoming). About
// 12% of the issues have 1–6 worklog records (15% edited, 8% removed); 60%
// of those and 5% of the others have an estimate (originalEstimation and
// estimation set together, 40% re-estimated later). Busy issues have more
// than two pages of 50: i%500 == 125 gets 105–134 more comments and
// i%500 == 375 105–124 worklog records. Links join fixed pairs (see
// "Links" below). Boards 1–3 and sprints 1–16 form the agile directory;
// issues only use sprints 1–12, all on board 1.
//
// Fixtures (AddFixture, Fixture73) are hand-written issues; Touch appends an
// IssueUpdated entry to any issue. Between passes, DeleteIssue, HideIssue
// and UnhideIssue change what the token sees, and AddComment, EditComment,
// RemoveComment, AddWorklog, EditWorklog, RemoveWorklog and Unlink append
// the matching entries (see "Mutations" below).
//
// Ground truth for tests: IssueCount, IssueKeys, Issue (with Spent,
// SpentSeconds, Estimation, OriginalEstimation, Hidden),
// ChangelogLen, ChangelogFieldChanges, TotalChangelogEntries,
// StatusChanges, Statuses, Users, Queues, and Comments, Worklogs, Links
// (the live items of an issue in the endpoint's order, with authors as
// UserInfo from the user directory), Boards and Sprints. IssueCount,
// IssueKeys and TotalChangelogEntries cover the issues the token sees
// (neither deleted nor hidden); the per-issue accessors answer for hidden
// issues and report nothing for deleted ones. Requests counts the new
// endpoints under EpComments, EpWorklog, EpLinks, EpBoards and EpSprints
// (which also counts /sprints/{id}).
//
// # Choices for what the documentation leaves open
//
// Each item names the tracker-api.md section whose [UNK] or [INF] it
// settles.
//
// Versions (§1.1): /v2 and /v3 answer identically except the version in
// self URLs and the project: a ref to /v2/projects/{id} in v2,
// {"primary": ref to /v3/entities/project/{hex}} in v3. statusType and the
// status directory's type appear in both versions. Self URLs use the scheme
// and Host of the request. A trailing slash is ignored everywhere. HEAD works
// like GET; a wrong method gets 405.
//
// Authentication (§1.2, §1.3): "OAuth <t>" or "Bearer <t>" (scheme
// case-insensitive; the token "not provided" is refused) plus X-Org-ID or
// X-Cloud-Org-ID; an "X-Org-ID: not provided" counts as absent. A missing or
// wrong token or organization gets 401 with the standard error body.
//
// Language (§1.4): Accept-Language "ru…" localizes the names of statuses,
// status types, issue types, priorities, resolutions and fields; anything
// else gives English. Queue, user, component, sprint and project names are
// not localized. localized=false returns {"en": …, "ru": …} names on
// /priorities, /issuetypes and /resolutions.
//
// Errors (§6.1): {"errors":{},"errorMessages":["…"],"errorsData":{},
// "statusCode":N}. Unknown paths get 404, but only after authentication.
//
// Search body (§2.2): null, {}, "" and [] count as absent. With two of
// queue/keys/filter/query the first in that order wins; with three or more
// the answer is 400 "You can only use keys, a queue, or a search query"
// (the Russian text of D-search). No criterion selects every issue. A
// non-null filterId alone gets 400 (saved filters are not emulated). order
// (string or list, body or query string, "+f"/"-f"/"f" for updated, created
// or key) applies only to filter; queue and keys results are sorted by key;
// a query sorts by its "Sort by". Without any order, results are sorted by
// key (queue key, then number). filter supports queue, key(s), status, type,
// priority, resolution, assignee, author, tags, epic, parent and
// updated/created/resolved as a value, a list or {"from": …, "to": …}
// (both ends inclusive); other fields get 400.
//
// Query language (§2.2, §8 item 4): see query.go for the grammar. Fields:
// Queue, Key, Status, Type, Priority, Resolution, Assignee, Author, Tags,
// Epic, Parent, Updated, Created, Resolved; functions now(), today() (with
// ±N h|d|w|y), empty(), notEmpty(), me(). Terms are ANDed with or without
// "and"; the values of a term are ORed, negated values ("!X") must all
// hold, so "Queue: !A, !B" excludes both. Datetime literals without an
// offset ("YYYY-MM-DD HH:MM:SS", "… HH:MM", "YYYY-MM-DD", "DD.MM.YYYY")
// are read in Options.Zone (default Europe/Moscow); filter datetimes too. A
// literal denotes its span (a second, a minute or a day): ">=" starts at
// the span, ">" after it, "<" before it, "<=" up to its end, no operator
// within it, a..b from a's start to b's end. Values that name nothing (an
// unknown queue or status) match nothing; unknown fields, functions, units
// or syntax, and sorting by anything but Updated, Created or Key, get 400.
// "Sort by" without a direction is ascending.
//
// Page mode (§2.3, §2.4): perPage defaults to 50 and is clamped to 1000.
// X-Total-Count is capped at 10 000 and X-Total-Pages follows it; a page
// starting at or past item 10 000 gets 400 "Request exceeds 10000 items
// limit"; a page past the total under the cap is an empty array. One Link
// header: rel="next" (absent on the last page) and rel="seek"
// (…&perPage=N{&page}), keeping the other query parameters. Results are
// recomputed on every page. expand, fields, embed and the like are ignored.
//
// Scroll (§2.5): scrollType sorted|unsorted on the first request; perScroll
// defaults to 100 and is clamped to 1000; scrollTTLMillis defaults to 60000
// and every request (which may pass a new one) extends the TTL. The result
// membership and order are a snapshot taken at the first request; the
// issues are rendered as they are when each page is served. X-Total-Count is
// the uncapped total. By default every page has its own scroll id, which
// X-Scroll-Id and the next link carry: re-sending an id returns the same
// page again, so retries are safe. X-Scroll-Id, X-Scroll-Token and rel="next" come only
// while pages remain; rel="first" always (separate Link header lines, as in
// the documentation example). scrollToken is accepted and ignored. An
// unknown, expired or cleared scroll id gets 404. unsorted scrolls return a
// deterministic order that is deliberately not chronological; sorted ones
// follow "Sort by"/order, else key. _clear takes {"<scrollId>": "<token>"…}
// (or {"scrollId": …}) and answers 200 with an empty body. _count answers a
// bare uncapped number.
//
// Scroll cursors (§2.5, Options.ScrollCursor): the other reading of the
// scroll id. The id (and token) identifies the scroll only and is the same
// on every page; the server keeps the scroll's position, and every request
// carrying the id gets the page at that position and advances it by one
// page, even when the answer never reaches the client (a lost response), so
// re-sending an id returns the next page, not the same one. X-Scroll-Id and
// rel="next" still come only while pages remain, X-Total-Count is the
// snapshot's total, and a request once the position is past the last page
// gets the same 404 "not found or expired" as an unknown id (not an empty
// page). _clear and the TTL work as above.
//
// Issues (§3): empty fields are omitted (description, assignee, followers,
// tags, components, sprint, resolution…); votes, favorite and the comment
// counts are always present; boards is [{"id":1}] when a sprint is set.
// Issue ids are 24 hex digits; /issues/{id} and old keys of moved issues
// resolve to the issue. Refs carry string ids, full objects numeric ids.
// Comment ids in changelog comments.added are numbers (D-changelog table).
//
// Changelog (§4): oldest first; perPage defaults to 50 and is clamped to
// 1000; the id cursor is the id of the last entry of the previous page
// (exclusive) and an unknown cursor gets 400. rel="first" always,
// rel="next" only when more entries exist (Options.Realistic: also on the
// last non-empty page, followed by an empty page without it); no
// X-Total-Count. type and field may repeat or be comma-separated; they
// select whole entries; an undocumented type gets 400. An entry's issue ref
// shows the current key, also for entries before a move. transport
// is "front" or "api". IssueCreated has one field, status null → initial.
// IssueWorkflow: status, statusStartTime (from = the previous transition's
// time, null on the first transition; to = the entry's updatedAt), then
// resolution, resolvedAt, resolvedBy (null → value) when entering a done or
// cancelled status while unresolved, or (value → null) when leaving one:
// reopens (closed → open) and returns (testing → inProgress) happen.
// IssueMoved: key, queue, then the old queue's local field and the
// components → null, and status/statusStartTime (plus resolution clearing)
// → open when the new queue's workflow lacks the status.
//
// Changelog page cap (§4.1, Options.ChangelogPageCap): the undocumented
// maximum perPage. A page holds at most the cap whatever perPage asks, and
// rel="next" comes while more entries exist (with Realistic, also on the
// last non-empty, possibly short, page, followed by an empty page). The
// first and next links carry the capped size, so the server tells its page
// size; with Options.ChangelogCapEchoesRequest they carry the perPage the
// client asked (or the default 50), so a client that stops on a page
// shorter than perPage stops too early.
//
// Directories (§5): /statuses (no paging; /statuses/{id or key}),
// /issuetypes, /priorities, /resolutions, /fields (global fields;
// /fields/{id}), /queues (paged; /queues/{key}, /queues/{key}/localFields),
// /components, /projects/{id}, /entities/project/{hex},
// /users (paged, perPage default 50), /users/{uid|login|login:x},
// /users/_relative (perPage ≤ 100, id = the uid after which to start,
// ascending uid, rel="next" while more remain), /myself (an object).
//
// Comments (§5.8): GET /issues/{key}/comments lists the live comments in
// creation order; /comments/{id} returns one. perPage defaults to 50 and
// is clamped to 100 (the first and next links carry the clamped size); the
// id cursor is the comment after which the page starts, any comment the
// issue ever had, removed ones included; an unknown or non-numeric id gets
// 400. rel="first" always, rel="next" only while more comments exist
// (Options.Realistic: also on the last non-empty page, then an empty page),
// both keeping expand; no X-Total-Count. expand=html (or all) adds
// textHtml: the text HTML-escaped, <p> per paragraph, <br/> per line. Ids
// are unique numbers but do not always increase with creation (the extra
// comments of busy issues and those added by AddComment have their own
// ranges). type standard goes with transport internal, incoming and
// outcoming with email. version is 1 + the edits; updatedAt/updatedBy are
// those of the last edit. Changelog: comments.added [{self,id,display}]
// (display: the text's first line), comments.updated [{comment: ref, from:
// old text, to: new text}] (GO1's model), comments.removed [ref]; a comment
// left with a transition is announced by the IssueWorkflow entry only, so
// a client must look at the comments key of every entry, not only at the
// IssueComment* types. commentWithoutExternalMessageCount and
// commentWithExternalMessageCount count the live internal and e-mail
// comments; lastCommentUpdatedAt is the last add or edit (it stays when
// comments are removed).
//
// Worklog (§5.7): GET /issues/{key}/worklog is paginated like comments
// (perPage 50, at most 100, id cursor, the same links; the docs say
// nothing); /worklog/{id} returns one record. Records are listed in
// creation order and their ids increase with it. comment is omitted when
// the record has none. Durations are ISO 8601 normalized the way Tracker
// writes them: a day is 8 hours and a week 5 days, largest units first
// ("P1W2DT3H", "PT1H30M", "P1D"), "PT0S" never served. The changelog entry
// of a worklog event has the field spent (from/to, null when zero) and a
// top-level "worklog": [{record: {self, id, display: the duration}, from:
// {duration, start} or null, to: … or null}]. The spent is the sum
// of its live records; estimation and originalEstimation change only in
// IssueUpdated entries. /fields lists spent, estimation and
// originalEstimation (schema type "duration", category timeTracking).
//
// Links (§5.8): GET /issues/{key}/links is one array of the live links in
// creation order (no pagination); /links/{id} returns one. Pairs are fixed
// so that both sides are pure functions of (Seed, i): issue i with
// i%10 == 3 may link to i−1 and i%10 == 7 to i−5 (so i%10 == 2 has up to
// two links); a pair is linked with probability 65% when the two issues
// live together at least 10 minutes, at a time strictly after both
// createdAt and before both updatedAt; 20% change type later, 15% are
// removed later, each event in both changelogs at the same time. Types:
// relates (relates/relates), depends (inward "is dependent by", outward
// "depends on"), duplicates ("is duplicated by"/"duplicates"); their self
// points at /linktypes/{id}, which is not served. On the issue that made
// the link the direction is outward (it reads "<issue> <outward> <object>"),
// on the other inward; link ids are src·4+slot+1, the same on both sides.
// object, status and assignee describe the other issue as it is now (also
// in changelog entries, as issue refs do). The changelog entries
// IssueLinked, IssueLinkChanged and IssueUnlinked carry "links": [{from:
// {direction, object, type} or null, to: … or null}] (GO1's model) and no
// link id. Links to a deleted or hidden issue stay listed.
//
// Boards and sprints (§5.6): /boards (one array, no pagination),
// /boards/{id}, /boards/{id}/sprints (one array), /sprints/{id}. filter is
// {"queue": key} or {"queue": [keys]}, query the same as query language,
// orderBy "updatedAt", orderAsc false; columns are statuses (localized
// display); country is Russia. A sprint starts at 09:00 Moscow time
// (06:00Z) on startDate and ends at 21:00 (18:00Z) on endDate; its status
// at Options.Now is draft before the start, in_progress until the end,
// released after it and archived (archived: true) 180 days after it;
// version is 1–4 along those; createdBy is the board's lead, createdAt a
// week before the start.
//
// Deletion and hiding: DeleteIssue and HideIssue take a current or old key
// or an id and act on that issue only (other moved issues keep resolving
// by their old keys). A deleted issue answers 404 "Issue does not exist."
// on /issues/{key} and every sub-resource, a hidden one 403 "You do not
// have permission to access this issue." with the standard error body;
// search, _count and keys searches omit both, and a scroll started earlier
// skips them on the pages served after (pages may then be short).
// Deletion is final; hiding is undone by UnhideIssue.
//
// Mutations: AddComment, EditComment, RemoveComment, AddWorklog,
// EditWorklog, RemoveWorklog and Unlink (and Touch) materialize the issue,
// append their entry by the robot user (user 0, transport "api") at the
// given time (moved to updatedAt + 1 ms when not later), bump the version
// and set updatedAt, so search order follows. Texts given to them are kept
// as given; durations are parsed with the meaning above and served
// normalized (PT90M → PT1H30M). Unlink appends IssueUnlinked to both
// issues at one time after both updatedAt, and moves both. Ids given by
// the mutations start at 2^45 and follow the order of the calls.
//
// Limits and faults (§6.3, §8 item 8): a request first waits
// Options.Latency and Faults.Hang, then meets injected faults (Next5xx →
// 503, Next429 → 429 with Retry-After: 1, Status5xxRate → 500 or 503), then
// the shared token bucket (429 with Retry-After = the wait rounded up to
// whole seconds, at least 1; Options.RetryAfter under a second gives
// fractional seconds instead, for tests), then authentication. Malformed bodies (half of
// a 200 search or changelog body) are decided when the body is written.
// Every request counts in Requests/TotalRequests, and every 429 in
// Throttled.
//
// Lost responses (Faults.NextLost, LostRate, LostEndpoint): a request that
// got past the faults above, the token bucket, authentication and routing,
// to the endpoint LostEndpoint names ("" for any), is processed in full
// (a scroll cursor advances, the snapshot of a new scroll is kept) but its
// answer, whatever its status, is discarded and replaced by 502 Bad Gateway
// with the standard error body and no Link or X- headers, as a proxy
// answers after the upstream has. NextLost is used up before LostRate is
// drawn; a lost body draws no malformed-body fault. Lost counts them.
package trackertest
