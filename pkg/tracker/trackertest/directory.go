package trackertest

import (
	"strconv"
	"strings"
)

// The organisation's directories: statuses, workflows, queues, users, issue
// types, priorities, resolutions, fields, components, sprints and projects.
// They are fixed tables, the same for every seed, so that tests can name
// them. Display names exist in English and Russian (Accept-Language).

// Language indexes of localized names.
const (
	langEN = 0
	langRU = 1
)

// Status types, as the status directory and statusType name them.
const (
	StatusTypeNew        = "new"
	StatusTypeInProgress = "inProgress"
	StatusTypePaused     = "paused"
	StatusTypeDone       = "done"
	StatusTypeCancelled  = "cancelled"
)

type statusDef struct {
	key   string
	name  [2]string
	typ   string
	order int
}

// statusDefs is the status directory; a status's id is its index + 1.
var statusDefs = []statusDef{
	{"open", [2]string{"Open", "Открыт"}, StatusTypeNew, 100},
	{"inProgress", [2]string{"In progress", "В работе"}, StatusTypeInProgress, 200},
	{"needInfo", [2]string{"Need info", "Требуется информация"}, StatusTypePaused, 300},
	{"resolved", [2]string{"Resolved", "Решен"}, StatusTypeDone, 400},
	{"closed", [2]string{"Closed", "Закрыт"}, StatusTypeDone, 500},
	{"testing", [2]string{"Testing", "Тестируется"}, StatusTypeInProgress, 250},
	{"readyForRelease", [2]string{"Ready for release", "Готово к релизу"}, StatusTypePaused, 270},
	{"cancelled", [2]string{"Cancelled", "Отменено"}, StatusTypeCancelled, 600},
	{"inReview", [2]string{"In review", "На ревью"}, StatusTypeInProgress, 230},
	{"onHold", [2]string{"On hold", "Отложено"}, StatusTypePaused, 320},
	{"backlog", [2]string{"Backlog", "Бэклог"}, StatusTypeNew, 50},
}

// Status indexes used by the generator.
const (
	stOpen = iota
	stInProgress
	stNeedInfo
	stResolved
	stClosed
	stTesting
	stReadyForRelease
	stCancelled
	stInReview
	stOnHold
	stBacklog
)

var statusTypeNames = map[string][2]string{
	StatusTypeNew:        {"New", "Начальный"},
	StatusTypeInProgress: {"In progress", "В работе"},
	StatusTypePaused:     {"Paused", "Приостановлен"},
	StatusTypeDone:       {"Done", "Завершен"},
	StatusTypeCancelled:  {"Cancelled", "Отменен"},
}

func statusIndex(key string) int {
	for i, d := range statusDefs {
		if d.key == key {
			return i
		}
	}
	return -1
}

func isFinal(st int) bool {
	t := statusDefs[st].typ
	return t == StatusTypeDone || t == StatusTypeCancelled
}

// move is one workflow transition with a relative weight.
type move struct {
	to     int
	weight int
}

type workflowDef struct {
	id    string
	name  string
	moves map[int][]move // from status → possible next statuses
}

// Workflows. Every workflow starts in "open"; final statuses can be reopened.
var workflowDefs = []workflowDef{
	{
		id: "dev", name: "Development",
		moves: map[int][]move{
			stOpen:            {{stInProgress, 75}, {stNeedInfo, 10}, {stCancelled, 15}},
			stInProgress:      {{stInReview, 40}, {stTesting, 30}, {stNeedInfo, 10}, {stOnHold, 10}, {stOpen, 5}, {stCancelled, 5}},
			stInReview:        {{stTesting, 55}, {stInProgress, 45}},
			stTesting:         {{stReadyForRelease, 55}, {stInProgress, 45}},
			stReadyForRelease: {{stClosed, 85}, {stTesting, 15}},
			stNeedInfo:        {{stInProgress, 70}, {stOpen, 15}, {stCancelled, 15}},
			stOnHold:          {{stInProgress, 85}, {stCancelled, 15}},
			stClosed:          {{stOpen, 100}},
			stCancelled:       {{stOpen, 100}},
		},
	},
	{
		id: "support", name: "Support",
		moves: map[int][]move{
			stOpen:       {{stInProgress, 70}, {stNeedInfo, 15}, {stCancelled, 15}},
			stInProgress: {{stResolved, 55}, {stNeedInfo, 30}, {stOnHold, 15}},
			stNeedInfo:   {{stInProgress, 80}, {stCancelled, 20}},
			stOnHold:     {{stInProgress, 100}},
			stResolved:   {{stClosed, 70}, {stOpen, 30}},
			stClosed:     {{stOpen, 100}},
			stCancelled:  {{stOpen, 100}},
		},
	},
	{
		id: "ops", name: "Operations",
		moves: map[int][]move{
			stOpen:       {{stInProgress, 85}, {stCancelled, 15}},
			stInProgress: {{stClosed, 70}, {stOnHold, 20}, {stCancelled, 10}},
			stOnHold:     {{stInProgress, 90}, {stCancelled, 10}},
			stClosed:     {{stOpen, 100}},
			stCancelled:  {{stOpen, 100}},
		},
	},
}

const (
	wfDev = iota
	wfSupport
	wfOps
)

type queueDef struct {
	key        string
	name       string
	workflow   int
	weight     int    // share of synthetic issues
	localField int    // index into localFieldDefs, -1 if none
	lead       int    // user index
	comps      []int  // component indexes
	sprints    bool   // uses sprints and boards
	desc       string // description
}

// queueDefs are the synthetic queues; a queue's id is its index + 1.
// Fixtures may add queues (workflow "dev") after these.
var queueDefs = []queueDef{
	{"DEV", "Development", wfDev, 30, 0, 1, []int{0, 1, 2}, true, "Product development"},
	{"TEST", "Testing", wfDev, 12, -1, 2, []int{3, 4}, true, "QA and test automation"},
	{"SRE", "Site Reliability", wfOps, 15, 1, 3, []int{5, 6, 7}, false, "Эксплуатация сервисов"},
	{"OPS", "Operations", wfOps, 15, -1, 4, []int{8, 9}, false, "Office and hardware"},
	{"SUP", "Служба поддержки", wfSupport, 20, -1, 5, []int{10, 11, 12}, false, "Customer support 🎧"},
	{"TRASH", "Trash", wfSupport, 8, -1, 6, nil, false, ""},
}

type localFieldDef struct {
	id      string // "<24 hex>--team"
	key     string
	name    [2]string
	queue   int
	options []string
}

var localFieldDefs = []localFieldDef{
	{"6063181a59590573909db929--team", "team", [2]string{"Team", "Команда"}, 0, []string{"Core", "Platform", "Data", "Мобильная команда"}},
	{"6063181a59590573909db92a--team", "team", [2]string{"Team", "Команда"}, 2, []string{"Infra", "Databases", "Network"}},
}

type namedDef struct {
	key   string
	name  [2]string
	order int
}

// issueTypeDefs: id = index + 1.
var issueTypeDefs = []namedDef{
	{"bug", [2]string{"Bug", "Ошибка"}, 1},
	{"task", [2]string{"Task", "Задача"}, 2},
	{"story", [2]string{"Story", "История"}, 3},
	{"epic", [2]string{"Epic", "Эпик"}, 4},
	{"improvement", [2]string{"Improvement", "Улучшение"}, 5},
}

const (
	typeBug = iota
	typeTask
	typeStory
	typeEpic
	typeImprovement
)

// priorityDefs: id = index + 1, order = id.
var priorityDefs = []namedDef{
	{"trivial", [2]string{"Trivial", "Незначительный"}, 1},
	{"minor", [2]string{"Minor", "Низкий"}, 2},
	{"normal", [2]string{"Normal", "Средний"}, 3},
	{"critical", [2]string{"Critical", "Критичный"}, 4},
	{"blocker", [2]string{"Blocker", "Блокер"}, 5},
}

const prioNormal = 2

// resolutionDefs: id = index + 1.
var resolutionDefs = []namedDef{
	{"fixed", [2]string{"Fixed", "Решен"}, 1},
	{"wontFix", [2]string{"Won't fix", "Не будет исправлено"}, 2},
	{"duplicate", [2]string{"Duplicate", "Дубликат"}, 3},
	{"invalid", [2]string{"Invalid", "Некорректный"}, 4},
	{"cantReproduce", [2]string{"Can't reproduce", "Не воспроизводится"}, 5},
}

const (
	resFixed = iota
	resWontFix
	resDuplicate
)

// componentDefs: id = index + 1; queue is a queueDefs index.
var componentDefs = []struct {
	name  string
	queue int
}{
	{"Backend", 0}, {"Frontend", 0}, {"API", 0},
	{"Autotests", 1}, {"Manual QA", 1},
	{"Monitoring", 2}, {"Databases", 2}, {"Network", 2},
	{"Office", 3}, {"Hardware", 3},
	{"Billing", 4}, {"Accounts", 4}, {"Мобильное приложение", 4},
}

// sprintDefs: id = index + 1. The first numIssueSprints (two weeks each,
// on board 1) are the ones issues reference; the others exist only on the
// boards (the current and next sprint of board 1, two quarters of board 3).
// Dates are YYYY-MM-DD; board is a boardDefs index.
var sprintDefs = []struct {
	name  string
	start string
	end   string
	board int
}{
	{"Sprint 2025-01", "2025-01-13", "2025-01-26", 0},
	{"Sprint 2025-05", "2025-03-10", "2025-03-23", 0},
	{"Sprint 2025-09", "2025-05-05", "2025-05-18", 0},
	{"Sprint 2025-13", "2025-06-30", "2025-07-13", 0},
	{"Sprint 2025-17", "2025-08-25", "2025-09-07", 0},
	{"Sprint 2025-21", "2025-10-20", "2025-11-02", 0},
	{"Sprint 2025-25", "2025-12-15", "2025-12-28", 0},
	{"Sprint 2026-03", "2026-02-02", "2026-02-15", 0},
	{"Sprint 2026-07", "2026-03-30", "2026-04-12", 0},
	{"Sprint 2026-11", "2026-05-25", "2026-06-07", 0},
	{"Sprint 2026-15", "2026-07-20", "2026-08-02", 0},
	{"Sprint 2026-19", "2026-09-14", "2026-09-27", 0},
	{"Sprint 2026-22", "2026-10-26", "2026-11-08", 0},
	{"Sprint 2026-23", "2026-11-09", "2026-11-22", 0},
	{"SRE 2026-Q3", "2026-07-01", "2026-09-30", 2},
	{"SRE 2026-Q4 🔥", "2026-10-01", "2026-12-31", 2},
}

// numIssueSprints is the number of sprints (the first of sprintDefs) that
// issues are put in.
const numIssueSprints = 12

// boardDefs: id = index + 1. Issues with a sprint show "boards": [{"id":1}].
var boardDefs = []struct {
	name       string
	queues     []int // queueDefs indexes of the filter
	columns    []int // statuses, one column each
	useRanking bool
	lead       int // user index: createdBy of its sprints
	version    int
}{
	{"Development board", []int{0, 1}, []int{stOpen, stInProgress, stInReview, stTesting, stClosed}, true, 1, 7},
	{"Служба поддержки", []int{4}, []int{stOpen, stInProgress, stNeedInfo, stResolved, stClosed}, false, 5, 3},
	{"Operations 🛠", []int{2, 3}, []int{stOpen, stInProgress, stOnHold, stClosed}, false, 3, 4},
}

// linkTypeDefs are the link types the emulator uses (a subset of
// Tracker's): on the issue that made the link the direction is "outward"
// and reads "<issue> <outward> <object>"; on the other "inward".
var linkTypeDefs = []struct {
	id, inward, outward string
}{
	{"relates", "relates", "relates"},
	{"depends", "is dependent by", "depends on"},
	{"duplicates", "is duplicated by", "duplicates"},
}

// projectDefs: v2 id = index + 1; hex is the v3 entity id.
var projectDefs = []struct {
	name string
	hex  string
}{
	{"Tracker exporter", "65f1a0c2d3e4f5a6b7c8d901"},
	{"Миграция ClickHouse", "65f1a0c2d3e4f5a6b7c8d902"},
	{"Q4 goals 🎯", "65f1a0c2d3e4f5a6b7c8d903"},
	{"Mobile app", "65f1a0c2d3e4f5a6b7c8d904"},
}

var tagBank = []string{
	"backend", "frontend", "регресс", "urgent", "tech-debt", "🔥hot", "customer",
	"q3-goal", "security", "performance", "needs-design", "из-поддержки", "flaky", "数据",
}

type userDef struct {
	login     string
	first     string
	last      string
	display   string
	dismissed bool
	deleted   bool // referenced by issues, absent from the directory
	position  string
}

// User indexes: 0 is the robot the token belongs to (/myself); 1..49 are
// directory users; 50..54 are deleted users: issues reference them but
// /users does not list them and /users/{uid} answers 404.
const (
	numDirUsers   = 50
	numAllUsers   = 55
	firstDeleted  = 50
	userUIDOrigin = 1130000000000000
)

var userDefs = buildUsers()

func buildUsers() []userDef {
	type name struct{ en, ru string }
	firstM := []name{{"Ivan", "Иван"}, {"Alexey", "Алексей"}, {"Dmitry", "Дмитрий"}, {"Sergey", "Сергей"}, {"Pavel", "Павел"}, {"Nikolai", "Николай"}, {"Artem", "Артём"}}
	firstF := []name{{"Maria", "Мария"}, {"Olga", "Ольга"}, {"Elena", "Елена"}, {"Anna", "Анна"}, {"Natalia", "Наталья"}, {"Daria", "Дарья"}}
	lastM := []name{{"Petrov", "Петров"}, {"Ivanov", "Иванов"}, {"Smirnov", "Смирнов"}, {"Kuznetsov", "Кузнецов"}, {"Popov", "Попов"}, {"Sokolov", "Соколов"}, {"Volkov", "Волков"}, {"Morozov", "Морозов"}}
	positions := []string{"Developer", "QA engineer", "SRE", "Team lead", "Support engineer", "Product manager", "Аналитик"}
	out := make([]userDef, numAllUsers)
	out[0] = userDef{login: "robot-tracker-exporter", first: "Tracker", last: "Robot", display: "Tracker Exporter Robot", position: "Robot"}
	for i := 1; i < numAllUsers; i++ {
		var fn name
		ln := lastM[(i*5)%len(lastM)]
		female := i%3 == 1
		if female {
			fn = firstF[(i*7)%len(firstF)]
			ln = name{ln.en + "a", ln.ru + "а"}
		} else {
			fn = firstM[(i*3)%len(firstM)]
		}
		u := userDef{
			login:     lowerASCII(fn.en) + "." + lowerASCII(ln.en) + itoa(i),
			first:     fn.en,
			last:      ln.en,
			display:   fn.en + " " + ln.en,
			dismissed: i%11 == 7,
			deleted:   i >= firstDeleted,
			position:  positions[i%len(positions)],
		}
		if i%4 == 2 { // some users have Cyrillic names in the directory
			u.first, u.last, u.display = fn.ru, ln.ru, fn.ru+" "+ln.ru
		}
		out[i] = u
	}
	return out
}

func userUID(u int) int64 { return userUIDOrigin + int64(u) + 1 }

// cloudUID is a stable 20-character Cloud id ("aje…") for user u.
func cloudUID(u int) string {
	const alphabet = "abcdefghijklmnopqrstuv0123456789"
	h := mix(0xc10d, uint64(u))
	b := []byte("aje")
	for range 17 {
		b = append(b, alphabet[h&31])
		h = h>>5 | h<<59
	}
	return string(b)
}

// lookupUser finds a user by login ("login:" optional) or uid; -1 if
// unknown.
func lookupUser(s string) int {
	s = strings.TrimPrefix(s, "login:")
	for u, d := range userDefs {
		if strings.EqualFold(d.login, s) || strconv.FormatInt(userUID(u), 10) == s {
			return u
		}
	}
	return -1
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// Field ids of the global fields the emulator changes or returns.
type fieldID uint8

const (
	fStatus fieldID = iota
	fStatusStartTime
	fResolution
	fResolvedAt
	fResolvedBy
	fSummary
	fDescription
	fAssignee
	fFollowers
	fTags
	fStoryPoints
	fPriority
	fType
	fDeadline
	fComponents
	fSprint
	fQAEngineer
	fKey
	fQueue
	fCreatedAt
	fUpdatedAt
	fCreatedBy
	fUpdatedBy
	fStart
	fEnd
	fProject
	fParent
	fEpic
	fVotes
	fSpent
	fEstimation
	fOriginalEstimation
	fTeamDEV // local fields: localFieldDefs[f-fTeamDEV]
	fTeamSRE
	numFields
)

type fieldDef struct {
	id       string
	name     [2]string
	schema   string // schema.type
	items    string // schema.items for arrays
	readonly bool
	category string
}

var fieldDefs = [numFields]fieldDef{
	fStatus:             {"status", [2]string{"Status", "Статус"}, "status", "", true, "system"},
	fStatusStartTime:    {"statusStartTime", [2]string{"Status updated", "Статус изменен"}, "datetime", "", true, "system"},
	fResolution:         {"resolution", [2]string{"Resolution", "Резолюция"}, "resolution", "", true, "system"},
	fResolvedAt:         {"resolvedAt", [2]string{"Resolved", "Дата решения"}, "datetime", "", true, "system"},
	fResolvedBy:         {"resolvedBy", [2]string{"Resolved by", "Решил"}, "user", "", true, "system"},
	fSummary:            {"summary", [2]string{"Summary", "Задача"}, "string", "", false, "system"},
	fDescription:        {"description", [2]string{"Description", "Описание"}, "text", "", false, "system"},
	fAssignee:           {"assignee", [2]string{"Assignee", "Исполнитель"}, "user", "", false, "system"},
	fFollowers:          {"followers", [2]string{"Followers", "Наблюдатели"}, "array", "user", false, "system"},
	fTags:               {"tags", [2]string{"Tags", "Теги"}, "array", "string", false, "system"},
	fStoryPoints:        {"storyPoints", [2]string{"Story Points", "Story Points"}, "float", "", false, "agile"},
	fPriority:           {"priority", [2]string{"Priority", "Приоритет"}, "priority", "", false, "system"},
	fType:               {"type", [2]string{"Type", "Тип"}, "issuetype", "", false, "system"},
	fDeadline:           {"deadline", [2]string{"Deadline", "Дедлайн"}, "date", "", false, "timeTracking"},
	fComponents:         {"components", [2]string{"Components", "Компоненты"}, "array", "component", false, "system"},
	fSprint:             {"sprint", [2]string{"Sprint", "Спринт"}, "array", "sprint", false, "agile"},
	fQAEngineer:         {"qaEngineer", [2]string{"QA engineer", "QA-инженер"}, "user", "", false, "system"},
	fKey:                {"key", [2]string{"Key", "Ключ"}, "string", "", true, "system"},
	fQueue:              {"queue", [2]string{"Queue", "Очередь"}, "queue", "", true, "system"},
	fCreatedAt:          {"createdAt", [2]string{"Created", "Создана"}, "datetime", "", true, "system"},
	fUpdatedAt:          {"updatedAt", [2]string{"Updated", "Обновлена"}, "datetime", "", true, "system"},
	fCreatedBy:          {"createdBy", [2]string{"Author", "Автор"}, "user", "", true, "system"},
	fUpdatedBy:          {"updatedBy", [2]string{"Updated by", "Изменил"}, "user", "", true, "system"},
	fStart:              {"start", [2]string{"Start", "Начало"}, "date", "", false, "timeTracking"},
	fEnd:                {"end", [2]string{"End", "Конец"}, "date", "", false, "timeTracking"},
	fProject:            {"project", [2]string{"Project", "Проект"}, "project", "", false, "system"},
	fParent:             {"parent", [2]string{"Parent issue", "Родительская задача"}, "issue", "", false, "system"},
	fEpic:               {"epic", [2]string{"Epic", "Эпик"}, "issue", "", false, "agile"},
	fVotes:              {"votes", [2]string{"Votes", "Голоса"}, "integer", "", true, "system"},
	fSpent:              {"spent", [2]string{"Time spent", "Затраченное время"}, "duration", "", true, "timeTracking"},
	fEstimation:         {"estimation", [2]string{"Estimate", "Оценка"}, "duration", "", false, "timeTracking"},
	fOriginalEstimation: {"originalEstimation", [2]string{"Original estimate", "Первоначальная оценка"}, "duration", "", false, "timeTracking"},
	fTeamDEV:            {localFieldDefs[0].id, localFieldDefs[0].name, "string", "", false, "local"},
	fTeamSRE:            {localFieldDefs[1].id, localFieldDefs[1].name, "string", "", false, "local"},
}

func isLocalField(f fieldID) bool { return f >= fTeamDEV }

// numGlobalFields is the number of entries /fields lists.
const numGlobalFields = int(fTeamDEV)
