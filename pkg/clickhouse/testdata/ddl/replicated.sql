-- schema_migrations
CREATE TABLE IF NOT EXISTS `agile`.`schema_migrations` ON CLUSTER `tracker_cluster` (`version` UInt32, `name` String, `checksum` String, `applied_at` DateTime('UTC')) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/agile/schema_migrations', '{replica}') ORDER BY `version`;

-- 0001_create_issues
CREATE TABLE IF NOT EXISTS `agile`.`issues` ON CLUSTER `tracker_cluster`
(
    `version` DateTime('UTC') COMMENT 'When the row was computed (version column of the old tool; dedup uses _version)',

    `issue_id` String COMMENT 'Stable Tracker issue id; survives moves between queues',
    `queue` LowCardinality(String) COMMENT 'Queue key',
    `title` String COMMENT 'Issue summary',
    `issue_key` String COMMENT 'Issue key like TEST-1 (the current one after a move)',
    `issue_type` LowCardinality(String) COMMENT 'Issue type, snake_case',
    `priority` LowCardinality(String) COMMENT 'Priority, snake_case',
    `status` LowCardinality(String) COMMENT 'Current status name, snake_case',
    `status_key` LowCardinality(String) COMMENT 'Current status key (language independent)',
    `status_type` LowCardinality(String) COMMENT 'Current status type: new, inProgress, paused, done, cancelled',
    `resolution` LowCardinality(String) COMMENT 'Resolution, snake_case; empty when unresolved',

    `assignee` String COMMENT 'Assignee email (lower case)',
    `author` String COMMENT 'Author email (lower case)',
    `qa_engineer` String COMMENT 'QA engineer email (lower case)',

    `tags` Array(String) COMMENT 'Tags',
    `components` Array(String) COMMENT 'Components',
    `project` String COMMENT 'Project',

    `created_at` DateTime('UTC') COMMENT 'Creation time',
    `updated_at` DateTime('UTC') COMMENT 'Last update time',
    `deadline` Date COMMENT 'Deadline; 1970-01-01 when empty',
    `closed_at` DateTime('UTC') COMMENT 'resolved_at when resolved, else done_at; zero when open',
    `resolved_at` DateTime('UTC') COMMENT 'Resolution time; zero when unresolved',
    `start_date` Date COMMENT 'Start date (manual field); 1970-01-01 when empty',
    `end_date` Date COMMENT 'End date (manual field); 1970-01-01 when empty',

    `is_subtask` UInt8 COMMENT '1 when the issue has a parent',
    `is_closed` UInt8 COMMENT '1 when the current status is final',
    `is_resolved` UInt8 COMMENT '1 when the issue has a resolution',

    `story_points` Float32 COMMENT 'Story points',
    `sprints` Array(String) COMMENT 'Sprints',
    `parent_issue_key` String COMMENT 'Parent issue key',
    `epic_issue_key` String COMMENT 'Epic issue key',
    `aliases` Array(String) COMMENT 'Former keys of a moved issue',
    `was_moved` UInt8 COMMENT '1 when the issue was moved from another queue',
    `moved_at` DateTime('UTC') COMMENT 'Time of the last move; zero when never moved',
    `moved_by` String COMMENT 'Who moved the issue (email)',

    `started_at` DateTime('UTC') COMMENT 'First entry into an inProgress status; zero when never started',
    `done_at` DateTime('UTC') COMMENT 'Start of the current final status; zero when not done',
    `lead_time` Nullable(Int64) COMMENT 'done_at - created_at, seconds; NULL when not done',
    `lead_time_business` Nullable(Int64) COMMENT 'lead_time in business seconds',
    `cycle_time` Nullable(Int64) COMMENT 'done_at - started_at, seconds; NULL when not done or never started',
    `cycle_time_business` Nullable(Int64) COMMENT 'cycle_time in business seconds',
    `active_time` Int64 COMMENT 'Seconds in inProgress statuses',
    `paused_time` Int64 COMMENT 'Seconds in paused statuses after started_at',
    `flow_efficiency` Nullable(Float64) COMMENT 'active_time / cycle time (or age for started open issues)',
    `reopen_count` UInt32 COMMENT 'Transitions from a final to a non-final status',
    `current_status_since` DateTime('UTC') COMMENT 'Start of the current status visit',
    `current_status_age` Int64 COMMENT 'Seconds in the current status at transform time',
    `anomalies` UInt32 COMMENT 'Changelog inconsistencies met while computing metrics',
    `raw` String COMMENT 'The issue JSON as received from Tracker',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issues', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`);

-- 0002_create_issue_metrics
CREATE TABLE IF NOT EXISTS `agile`.`issue_metrics` ON CLUSTER `tracker_cluster`
(
    `version` DateTime('UTC') COMMENT 'When the row was computed (version column of the old tool; dedup uses _version)',
    `last_seen` DateTime('UTC') COMMENT 'End of the latest visit; the transform time while the current non-final visit is open',

    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key',
    `status_name` LowCardinality(String) COMMENT 'Status display name, snake_case',
    `status_key` LowCardinality(String) COMMENT 'Status key (language independent)',
    `status_type` LowCardinality(String) COMMENT 'Status type',
    `status_transitions_count` UInt32 COMMENT 'Number of visits to the status',

    `duration` Int64 COMMENT 'Seconds in the status (the open visit counted up to the transform time unless final)',
    `human_readable_duration` String COMMENT 'duration as text like 2w 3d',
    `busdays_duration` Int64 COMMENT 'duration in business seconds',
    `human_readable_busdays_duration` String COMMENT 'busdays_duration as text',
    `is_current` UInt8 COMMENT '1 for the current status of the issue',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_metrics', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `status_key`);

-- 0003_create_issues_changelog
CREATE TABLE IF NOT EXISTS `agile`.`issues_changelog` ON CLUSTER `tracker_cluster`
(
    `version` DateTime('UTC') COMMENT 'When the row was computed (version column of the old tool; dedup uses _version)',
    `event_time` DateTime('UTC') COMMENT 'Time of the changelog entry',

    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key',
    `queue` LowCardinality(String) COMMENT 'Queue key',
    `entry_id` String COMMENT 'Changelog entry id',
    `field_index` UInt16 COMMENT 'Position of the field within the entry',
    `event_type` LowCardinality(String) COMMENT 'Entry type, e.g. IssueWorkflow',
    `transport` LowCardinality(String) COMMENT 'Where the change came from: front, api, email...',
    `actor` String COMMENT 'Who made the change (email, else login or display name)',

    `changed_field` String COMMENT 'Changed field id',
    `field_display` String COMMENT 'Changed field display name',
    `changed_from` String COMMENT 'Previous value',
    `changed_to` String COMMENT 'New value',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issues_changelog', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `entry_id`, `field_index`);

-- 0004_create_issue_status_intervals
CREATE TABLE IF NOT EXISTS `agile`.`issue_status_intervals` ON CLUSTER `tracker_cluster`
(
    `issue_id` String COMMENT 'Stable Tracker issue id',
    `issue_key` String COMMENT 'Issue key',
    `queue` LowCardinality(String) COMMENT 'Queue key',
    `status_name` LowCardinality(String) COMMENT 'Status display name, snake_case',
    `status_key` LowCardinality(String) COMMENT 'Status key',
    `status_type` LowCardinality(String) COMMENT 'Status type',
    `visit_number` UInt32 COMMENT 'Number of this visit within the status, from 1',
    `entered_at` DateTime('UTC') COMMENT 'When the visit began',
    `left_at` DateTime('UTC') COMMENT 'When the visit ended; zero for the open visit',
    `duration` Int64 COMMENT 'Seconds of the visit (the open one up to the transform time)',
    `busdays_duration` Int64 COMMENT 'duration in business seconds',
    `is_current` UInt8 COMMENT '1 for the open visit',

    `_version` UInt64 COMMENT 'Dedup version: the issue update time in ms',
    `_transformed_at` DateTime('UTC') COMMENT 'When the transformer produced the row',
    `_generation` String COMMENT 'Fingerprint of the transform configuration'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_status_intervals', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `status_key`, `visit_number`);

-- 0005_create_statuses
CREATE TABLE IF NOT EXISTS `agile`.`statuses` ON CLUSTER `tracker_cluster`
(
    `key` String COMMENT 'Status key',
    `name` String COMMENT 'Display name',
    `type` LowCardinality(String) COMMENT 'Status type: new, inProgress, paused, done, cancelled',
    `_version` UInt64 COMMENT 'Load time in ms; the newest wins'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/statuses', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`key`);

-- 0006_create_issues_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues` FINAL;

-- 0007_create_issue_metrics_view
CREATE VIEW IF NOT EXISTS `agile`.`issue_metrics_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_metrics` FINAL
WHERE (`issue_id`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

-- 0008_create_issues_changelog_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_changelog_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues_changelog` FINAL
WHERE (`issue_id`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

-- 0009_create_issue_status_intervals_view
CREATE VIEW IF NOT EXISTS `agile`.`issue_status_intervals_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_status_intervals` FINAL
WHERE (`issue_id`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

-- 0010_create_statuses_view
CREATE VIEW IF NOT EXISTS `agile`.`statuses_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`statuses` FINAL;

-- 0011_create_flow_times_monthly_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_flow_times_monthly` ON CLUSTER `tracker_cluster` AS
SELECT
    `queue`,
    `month`,
    `done_issues`,
    `cycle_time_issues`,
    if(`lead_n` = 0, NULL, `lead_q`[1]) AS `lead_time_p50`,
    if(`lead_n` = 0, NULL, `lead_q`[2]) AS `lead_time_p85`,
    if(`lead_n` = 0, NULL, `lead_q`[3]) AS `lead_time_p95`,
    if(`lead_b_n` = 0, NULL, `lead_b_q`[1]) AS `lead_time_business_p50`,
    if(`lead_b_n` = 0, NULL, `lead_b_q`[2]) AS `lead_time_business_p85`,
    if(`lead_b_n` = 0, NULL, `lead_b_q`[3]) AS `lead_time_business_p95`,
    if(`cycle_time_issues` = 0, NULL, `cycle_q`[1]) AS `cycle_time_p50`,
    if(`cycle_time_issues` = 0, NULL, `cycle_q`[2]) AS `cycle_time_p85`,
    if(`cycle_time_issues` = 0, NULL, `cycle_q`[3]) AS `cycle_time_p95`,
    if(`cycle_b_n` = 0, NULL, `cycle_b_q`[1]) AS `cycle_time_business_p50`,
    if(`cycle_b_n` = 0, NULL, `cycle_b_q`[2]) AS `cycle_time_business_p85`,
    if(`cycle_b_n` = 0, NULL, `cycle_b_q`[3]) AS `cycle_time_business_p95`
FROM
(
    SELECT
        `queue`,
        toStartOfMonth(`done_at`) AS `month`,
        count() AS `done_issues`,
        count(`lead_time`) AS `lead_n`,
        count(`lead_time_business`) AS `lead_b_n`,
        count(`cycle_time`) AS `cycle_time_issues`,
        count(`cycle_time_business`) AS `cycle_b_n`,
        quantilesExact(0.5, 0.85, 0.95)(`lead_time`) AS `lead_q`,
        quantilesExact(0.5, 0.85, 0.95)(`lead_time_business`) AS `lead_b_q`,
        quantilesExact(0.5, 0.85, 0.95)(`cycle_time`) AS `cycle_q`,
        quantilesExact(0.5, 0.85, 0.95)(`cycle_time_business`) AS `cycle_b_q`
    FROM `agile`.`issues_view`
    WHERE toUInt32(`done_at`) > 0
    GROUP BY `queue`, `month`
);

-- 0012_create_throughput_weekly_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_throughput_weekly` ON CLUSTER `tracker_cluster` AS
SELECT
    `queue`,
    toMonday(`done_at`) AS `week`,
    countIf(`status_type` != 'cancelled') AS `throughput`,
    countIf(`status_type` = 'cancelled') AS `cancelled`,
    sumIf(toFloat64(`story_points`), `status_type` != 'cancelled') AS `story_points`
FROM `agile`.`issues_view`
WHERE toUInt32(`done_at`) > 0
GROUP BY `queue`, `week`;

-- 0013_create_wip_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_wip` ON CLUSTER `tracker_cluster` AS
SELECT
    `queue`,
    `status_key`,
    any(toString(`status`)) AS `status`,
    any(toString(`status_type`)) AS `status_type`,
    count() AS `wip`,
    min(`started_at`) AS `oldest_started_at`
FROM `agile`.`issues_view`
WHERE toUInt32(`started_at`) > 0 AND toUInt32(`done_at`) = 0
GROUP BY `queue`, `status_key`;

-- 0014_create_wip_ageing_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_wip_ageing` ON CLUSTER `tracker_cluster` AS
SELECT
    `issue_id`,
    `issue_key`,
    `queue`,
    `title`,
    `assignee`,
    `status`,
    `status_key`,
    `status_type`,
    `started_at`,
    `current_status_since`,
    toInt64(now()) - toInt64(`started_at`) AS `age`,
    intDiv(toInt64(now()) - toInt64(`started_at`), 86400) AS `age_days`,
    toInt64(now()) - toInt64(`current_status_since`) AS `status_age`,
    `active_time`,
    `paused_time`,
    `reopen_count`
FROM `agile`.`issues_view`
WHERE toUInt32(`started_at`) > 0 AND toUInt32(`done_at`) = 0;

-- 0015_create_cfd_daily_view
CREATE VIEW IF NOT EXISTS `agile`.`issues_cfd_daily` ON CLUSTER `tracker_cluster` AS
SELECT
    `day`,
    `queue`,
    `status_key`,
    any(`status_name`) AS `status_name`,
    any(`status_type`) AS `status_type`,
    count() AS `issue_count`
FROM
(
    SELECT
        `queue`,
        `status_key`,
        `status_name`,
        `status_type`,
        `first_day` + arrayJoin(range(toUInt32(`last_day` - `first_day` + 1))) AS `day`
    FROM
    (
        SELECT
            toString(`queue`) AS `queue`,
            toString(`status_key`) AS `status_key`,
            toString(`status_name`) AS `status_name`,
            toString(`status_type`) AS `status_type`,
            greatest(toDate(`entered_at`), toDate(now(), 'UTC') - 1095) AS `first_day`,
            if(toUInt32(`left_at`) = 0, toDate(now(), 'UTC'), toDate(`left_at`) - 1) AS `last_day`
        FROM `agile`.`issue_status_intervals_view`
    )
    WHERE `last_day` >= `first_day`
)
GROUP BY `day`, `queue`, `status_key`;

-- 0016_generation_slots
ALTER TABLE `agile`.`issues` ADD COLUMN `_slot` UInt8 COMMENT 'Slot (0 or 1) holding the rows derived from this version of the issue';

ALTER TABLE `agile`.`issue_metrics` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `status_key`, `_slot`);

ALTER TABLE `agile`.`issue_status_intervals` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `status_key`, `visit_number`, `_slot`);

ALTER TABLE `agile`.`issues_changelog` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `entry_id`, `field_index`, `_slot`);

DROP TABLE IF EXISTS `agile`.`issues_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW IF NOT EXISTS `agile`.`issues_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues` FINAL;

DROP TABLE IF EXISTS `agile`.`issue_metrics_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW IF NOT EXISTS `agile`.`issue_metrics_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_metrics` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

DROP TABLE IF EXISTS `agile`.`issue_status_intervals_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW IF NOT EXISTS `agile`.`issue_status_intervals_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_status_intervals` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

DROP TABLE IF EXISTS `agile`.`issues_changelog_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW IF NOT EXISTS `agile`.`issues_changelog_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues_changelog` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
);

-- 0017_create_forecasts
CREATE TABLE IF NOT EXISTS `agile`.`forecasts` ON CLUSTER `tracker_cluster`
(
    `computed_at` DateTime('UTC') COMMENT 'When the forecast was computed; the when-dates count from its date',
    `scope_kind` LowCardinality(String) COMMENT 'all, queue or epic',
    `scope` String COMMENT 'Queue key, epic key, or empty for all',
    `question` LowCardinality(String) COMMENT 'how_many or when',
    `horizon_weeks` UInt16 COMMENT 'how_many: the weeks ahead; 0 for when',
    `remaining` UInt32 COMMENT 'when: the open issues of the scope; 0 for how_many',
    `p50` Float64 COMMENT 'how_many: issues done in at least 50% of the trials; 0 for when',
    `p85` Float64 COMMENT 'how_many: issues done in at least 85% of the trials (the confident low end); 0 for when',
    `p95` Float64 COMMENT 'how_many: issues done in at least 95% of the trials; 0 for when',
    `date_p50` Date COMMENT 'when: 50% of the trials finished by this date; 1970-01-01 when none',
    `date_p85` Date COMMENT 'when: 85% of the trials finished by this date; 1970-01-01 when none',
    `date_p95` Date COMMENT 'when: 95% of the trials finished by this date; 1970-01-01 when none',
    `trials` UInt32 COMMENT 'Number of simulated futures',
    `window_weeks` UInt16 COMMENT 'Weeks of throughput history sampled',
    `weekly_throughput` Array(UInt32) COMMENT 'The history sampled: issues done per week, oldest first',
    `fingerprint` String COMMENT 'Hash of the inputs (question, horizon or remaining, history, trials, seed)',
    `note` String COMMENT 'Empty, or why there is no forecast or no date',
    `_version` UInt64 COMMENT 'Dedup version: the computation time in ms',
    `window_start` Date COMMENT 'Monday of the first week of weekly_throughput',
    `throughput_scope` String COMMENT 'Queue whose throughput was sampled (an epic: the queue holding most of its open issues); empty for all queues'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/forecasts', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`scope_kind`, `scope`, `question`, `horizon_weeks`, `computed_at`);

CREATE VIEW IF NOT EXISTS `agile`.`forecasts_latest` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`forecasts` FINAL
WHERE (`scope_kind`, `scope`, `question`, `horizon_weeks`, `computed_at`) IN (
    SELECT `scope_kind`, `scope`, `question`, `horizon_weeks`, max(`computed_at`)
    FROM `agile`.`forecasts`
    GROUP BY `scope_kind`, `scope`, `question`, `horizon_weeks`
);

-- 0018_issue_time_tracking_and_tombstones
ALTER TABLE `agile`.`issues` ADD COLUMN `spent` Int64 COMMENT 'Time spent (spent field), seconds; a day is 8 h, a week 5 days' AFTER `raw`;

ALTER TABLE `agile`.`issues` ADD COLUMN `estimation` Int64 COMMENT 'Remaining estimate (estimation field), seconds; a day is 8 h, a week 5 days' AFTER `spent`;

ALTER TABLE `agile`.`issues` ADD COLUMN `original_estimation` Int64 COMMENT 'Original estimate (originalEstimation field), seconds; a day is 8 h, a week 5 days' AFTER `estimation`;

ALTER TABLE `agile`.`issues` ADD COLUMN `is_deleted` UInt8 COMMENT '1 when Tracker no longer returns the issue for the configured scope (deleted or hidden)' AFTER `original_estimation`;

ALTER TABLE `agile`.`issues` ADD COLUMN `deleted_detected_at` DateTime('UTC') COMMENT 'When a reconciliation found the issue gone; zero otherwise' AFTER `is_deleted`;

DROP TABLE IF EXISTS `agile`.`issues_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW `agile`.`issues_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues` FINAL
WHERE `is_deleted` = 0;

CREATE VIEW IF NOT EXISTS `agile`.`issues_all_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues` FINAL;

DROP TABLE IF EXISTS `agile`.`issue_metrics_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW `agile`.`issue_metrics_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_metrics` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

DROP TABLE IF EXISTS `agile`.`issue_status_intervals_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW `agile`.`issue_status_intervals_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_status_intervals` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

DROP TABLE IF EXISTS `agile`.`issues_changelog_view` ON CLUSTER `tracker_cluster`;

CREATE VIEW `agile`.`issues_changelog_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issues_changelog` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

-- 0019_create_entity_tables
CREATE TABLE IF NOT EXISTS `agile`.`issue_comments` ON CLUSTER `tracker_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_comments', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `comment_id`, `_slot`);

CREATE VIEW IF NOT EXISTS `agile`.`issue_comments_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_comments` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

CREATE TABLE IF NOT EXISTS `agile`.`issue_worklogs` ON CLUSTER `tracker_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_worklogs', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `worklog_id`, `_slot`);

CREATE VIEW IF NOT EXISTS `agile`.`issue_worklogs_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_worklogs` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

CREATE TABLE IF NOT EXISTS `agile`.`issue_links` ON CLUSTER `tracker_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_links', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `link_id`, `_slot`);

CREATE VIEW IF NOT EXISTS `agile`.`issue_links_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_links` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

CREATE TABLE IF NOT EXISTS `agile`.`issue_sprints` ON CLUSTER `tracker_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/issue_sprints', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `sprint_id`, `added_at`, `_slot`);

CREATE VIEW IF NOT EXISTS `agile`.`issue_sprints_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`issue_sprints` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `agile`.`issues` FINAL
    WHERE `is_deleted` = 0
);

CREATE TABLE IF NOT EXISTS `agile`.`boards` ON CLUSTER `tracker_cluster`
(
    `board_id` String COMMENT 'Board id',
    `name` String COMMENT 'Board name',
    `board_version` Int64 COMMENT 'Board version in Tracker',
    `_version` UInt64 COMMENT 'Fetch time in ms; the latest fetch is shown'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/boards', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`board_id`);

CREATE VIEW IF NOT EXISTS `agile`.`boards_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`boards` FINAL
WHERE `_version` = (SELECT max(`_version`) FROM `agile`.`boards`);

CREATE TABLE IF NOT EXISTS `agile`.`sprints` ON CLUSTER `tracker_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agile/sprints', '{replica}', `_version`)
PARTITION BY tuple()
ORDER BY (`sprint_id`);

CREATE VIEW IF NOT EXISTS `agile`.`sprints_view` ON CLUSTER `tracker_cluster` AS
SELECT *
FROM `agile`.`sprints` FINAL
WHERE `_version` = (SELECT max(`_version`) FROM `agile`.`sprints`);

CREATE VIEW IF NOT EXISTS `agile`.`issue_worklogs_by_issue` ON CLUSTER `tracker_cluster` AS
SELECT
    `issue_id`,
    any(`issue_key`) AS `issue_key`,
    any(toString(`queue`)) AS `queue`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    min(`start`) AS `first_start`,
    max(`start`) AS `last_start`
FROM `agile`.`issue_worklogs_view`
GROUP BY `issue_id`;

CREATE VIEW IF NOT EXISTS `agile`.`issue_worklogs_by_person_day` ON CLUSTER `tracker_cluster` AS
SELECT
    `author`,
    toDate(`start`) AS `day`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    uniqExact(`issue_id`) AS `issue_count`
FROM `agile`.`issue_worklogs_view`
GROUP BY `author`, `day`;

CREATE VIEW IF NOT EXISTS `agile`.`issue_worklogs_by_queue_week` ON CLUSTER `tracker_cluster` AS
SELECT
    toString(`queue`) AS `queue`,
    toMonday(`start`) AS `week`,
    sum(`duration_seconds`) AS `spent_seconds`,
    count() AS `records`,
    uniqExact(`author`) AS `people`
FROM `agile`.`issue_worklogs_view`
GROUP BY `queue`, `week`;

CREATE VIEW IF NOT EXISTS `agile`.`issue_links_blocking` ON CLUSTER `tracker_cluster` AS
SELECT DISTINCT
    `blocked_issue_id`, `blocked_issue_key`, `blocking_issue_id`, `blocking_issue_key`
FROM
(
    SELECT
        `issue_id` AS `blocked_issue_id`, `issue_key` AS `blocked_issue_key`,
        `linked_issue_id` AS `blocking_issue_id`, `linked_issue_key` AS `blocking_issue_key`
    FROM `agile`.`issue_links_view`
    WHERE lowerUTF8(toString(`relationship`)) IN ('depends on', 'is blocked by', 'blocked by', 'зависит от', 'заблокирована', 'блокируется')
    UNION ALL
    SELECT
        `linked_issue_id` AS `blocked_issue_id`, `linked_issue_key` AS `blocked_issue_key`,
        `issue_id` AS `blocking_issue_id`, `issue_key` AS `blocking_issue_key`
    FROM `agile`.`issue_links_view`
    WHERE lowerUTF8(toString(`relationship`)) IN ('is dependent by', 'blocks', 'is blocking', 'блокирует', 'является зависимостью для')
);

