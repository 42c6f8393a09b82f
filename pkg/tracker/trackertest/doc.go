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
// entries on average; every issue with i%100 == 50 has 201–400 entries and
// every i%1000 == 500 has 501–800. About 4% of the issues were moved. Issues
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
// Fixtures (AddFixture, Fixture73) are hand-written issues; Touch appends an
// IssueUpdated entry to any issue. Ground truth for tests: IssueCount,
// IssueKeys, Issue, ChangelogLen, ChangelogFieldChanges,
// TotalChangelogEntries, StatusChanges, Statuses, Users, Queues.
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
// /components, /sprints/{id}, /projects/{id}, /entities/project/{hex},
// /users (paged, perPage default 50), /users/{uid|login|login:x},
// /users/_relative (perPage ≤ 100, id = the uid after which to start,
// ascending uid, rel="next" while more remain), /myself (an object).
//
// Limits and faults (§6.3, §8 item 8): a request first waits
// Options.Latency and Faults.Hang, then meets injected faults (Next5xx →
// 503, Next429 → 429 with Retry-After: 1, Status5xxRate → 500 or 503), then
// the shared token bucket (429 with Retry-After = the wait rounded up to
// whole seconds, at least 1), then authentication. Malformed bodies (half of
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
