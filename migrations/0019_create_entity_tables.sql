-- The rest of an issue's data: comments, worklog records, links and stays in
-- sprints (one row each, the issue's latest snapshot only, like the other
-- derived tables), and the boards and sprints directory (the latest fetch
-- only). Worklog durations are in seconds of Tracker's business time: a
-- day (D) is 8 hours, a week (W) 5 days.
-- One row per comment of an issue, and one per comment the changelog shows removed (is_deleted = 1). Filled when EXPORTER_COMMENTS_EXPORT_ENABLED is true.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.CommentsTable}}`
(
    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key (the current one after a move)',
    `queue` LowCardinality(String) COMMENT 'Queue key of the issue',
    `comment_id` String COMMENT 'Comment id',
    `long_id` String COMMENT 'Comment long id (24 hex digits)',
    `author` String COMMENT 'Author email, else login (lower case), else display name',
    `author_display` String COMMENT 'Author display name',
    `created_at` DateTime('UTC') COMMENT 'When the comment was written',
    `updated_at` DateTime('UTC') COMMENT 'Last edit; for a removed comment, when it was removed',
    `text` String COMMENT 'Comment text (markup) as received; empty for a removed comment',
    `text_length` UInt32 COMMENT 'Characters of text',
    `type` LowCardinality(String) COMMENT 'standard, incoming or outcoming',
    `transport` LowCardinality(String) COMMENT 'internal or email',
    `is_deleted` UInt8 COMMENT '1 for a comment the changelog shows removed',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration',
    `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `comment_id`, `_slot`);
-- The comments of the issue's latest snapshot, of issues that are not deleted.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.CommentsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.CommentsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
-- One row per worklog record (time spent) of an issue.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.WorklogsTable}}`
(
    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key (the current one after a move)',
    `queue` LowCardinality(String) COMMENT 'Queue key of the issue',
    `worklog_id` String COMMENT 'Worklog record id',
    `author` String COMMENT 'Who logged the time: email, else login (lower case), else display name',
    `start` DateTime('UTC') COMMENT 'When the work started',
    `duration` String COMMENT 'Duration as received (ISO 8601, e.g. PT1H30M, P1W)',
    `duration_seconds` Int64 COMMENT 'duration in seconds; a day is 8 h, a week 5 days',
    `comment` String COMMENT 'Comment of the record',
    `created_at` DateTime('UTC') COMMENT 'When the record was created',
    `updated_at` DateTime('UTC') COMMENT 'Last edit of the record',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration',
    `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `worklog_id`, `_slot`);
-- The worklog records of the issue's latest snapshot, of issues that are not deleted.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.WorklogsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.WorklogsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
-- One row per link of an issue to another issue.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.LinksTable}}`
(
    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key (the current one after a move)',
    `queue` LowCardinality(String) COMMENT 'Queue key of the issue',
    `link_id` String COMMENT 'Link id',
    `linked_issue_key` String COMMENT 'Key of the linked issue',
    `linked_issue_id` String COMMENT 'Id of the linked issue',
    `type_id` LowCardinality(String) COMMENT 'Link type id (relates, depends, subtask, ...)',
    `direction` LowCardinality(String) COMMENT 'inward or outward',
    `relationship` LowCardinality(String) COMMENT 'The link type name seen from this issue (outward name for outward links, inward for inward)',
    `author` String COMMENT 'Who created the link: email, else login, else display name',
    `created_at` DateTime('UTC') COMMENT 'When the link was created',
    `updated_at` DateTime('UTC') COMMENT 'Last change of the link',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration',
    `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `link_id`, `_slot`);
-- The links of the issue's latest snapshot, of issues that are not deleted.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.LinksTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.LinksTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
-- One row per stay of an issue in a sprint, from the changes of its sprint field.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.IssueSprintsTable}}`
(
    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key (the current one after a move)',
    `queue` LowCardinality(String) COMMENT 'Queue key of the issue',
    `sprint_id` String COMMENT 'Sprint id',
    `sprint_name` String COMMENT 'Sprint name',
    `added_at` DateTime('UTC') COMMENT 'When the issue was put in the sprint (its creation when set at creation)',
    `removed_at` DateTime('UTC') COMMENT 'When the issue left the sprint; zero while in it',
    `is_current` UInt8 COMMENT '1 when the issue is in the sprint now',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration',
    `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `sprint_id`, `added_at`, `_slot`);
-- The stays in sprints of the issue's latest snapshot, of issues that are not deleted.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssueSprintsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssueSprintsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
-- Boards, from the directory each extraction pass fetches; boards_view
-- shows the latest fetch.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.BoardsTable}}`
(
    `board_id` String COMMENT 'Board id',
    `name` String COMMENT 'Board name',
    `board_version` Int64 COMMENT 'Board version in Tracker',
    `_version` UInt64 COMMENT 'Fetch time in ms; the latest fetch is shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`board_id`);
-- The boards of the latest directory fetch.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.BoardsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.BoardsTable}}` FINAL
WHERE `_version` = (SELECT max(`_version`) FROM `{{.Database}}`.`{{.BoardsTable}}`);
-- Sprints of every board; sprints_view shows the latest fetch.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.SprintsTable}}`
(
    `sprint_id` String COMMENT 'Sprint id',
    `name` String COMMENT 'Sprint name',
    `board_id` String COMMENT 'Board id',
    `board_name` String COMMENT 'Board name',
    `status` LowCardinality(String) COMMENT 'draft, in_progress, released or archived',
    `archived` UInt8 COMMENT '1 when archived',
    `start_date` Date COMMENT 'Planned start date; 1970-01-01 when empty',
    `end_date` Date COMMENT 'Planned end date; 1970-01-01 when empty',
    `start_at` DateTime('UTC') COMMENT 'Actual start; zero when not started',
    `end_at` DateTime('UTC') COMMENT 'Actual end; zero when not ended',
    `created_at` DateTime('UTC') COMMENT 'When the sprint was created',
    `created_by` String COMMENT 'Who created it (display name)',
    `_version` UInt64 COMMENT 'Fetch time in ms; the latest fetch is shown'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`sprint_id`);
-- The sprints of the latest directory fetch.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.SprintsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.SprintsTable}}` FINAL
WHERE `_version` = (SELECT max(`_version`) FROM `{{.Database}}`.`{{.SprintsTable}}`);
-- Time spent per issue.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.WorklogsTable}}_by_issue` AS
SELECT
    `issue_id`,
    any(`issue_key`) AS `issue_key`,
    any(toString(`queue`)) AS `queue`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    min(`start`) AS `first_start`,
    max(`start`) AS `last_start`
FROM `{{.Database}}`.`{{.WorklogsTable}}_view`
GROUP BY `issue_id`;
-- Time spent per person and day (UTC) of the work's start.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.WorklogsTable}}_by_person_day` AS
SELECT
    `author`,
    toDate(`start`) AS `day`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    uniqExact(`issue_id`) AS `issue_count`
FROM `{{.Database}}`.`{{.WorklogsTable}}_view`
GROUP BY `author`, `day`;
-- Time spent per queue and week (Monday, UTC) of the work's start.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.WorklogsTable}}_by_queue_week` AS
SELECT
    toString(`queue`) AS `queue`,
    toMonday(`start`) AS `week`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    uniqExact(`author`) AS `people`
FROM `{{.Database}}`.`{{.WorklogsTable}}_view`
GROUP BY `queue`, `week`;
-- "Blocked by" / "depends on" pairs: one row per blocked issue and issue
-- blocking it, from the links of either side (a pair seen from both sides
-- is one row). The relationship names are matched in English and Russian.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.LinksTable}}_blocking` AS
SELECT DISTINCT
    `blocked_issue_id`, `blocked_issue_key`, `blocking_issue_id`, `blocking_issue_key`
FROM
(
    SELECT
        `issue_id` AS `blocked_issue_id`, `issue_key` AS `blocked_issue_key`,
        `linked_issue_id` AS `blocking_issue_id`, `linked_issue_key` AS `blocking_issue_key`
    FROM `{{.Database}}`.`{{.LinksTable}}_view`
    WHERE lowerUTF8(toString(`relationship`)) IN ('depends on', 'is blocked by', 'blocked by', 'зависит от', 'заблокирована', 'блокируется')
    UNION ALL
    SELECT
        `linked_issue_id` AS `blocked_issue_id`, `linked_issue_key` AS `blocked_issue_key`,
        `issue_id` AS `blocking_issue_id`, `issue_key` AS `blocking_issue_key`
    FROM `{{.Database}}`.`{{.LinksTable}}_view`
    WHERE lowerUTF8(toString(`relationship`)) IN ('is dependent by', 'blocks', 'is blocking', 'блокирует', 'является зависимостью для')
)
