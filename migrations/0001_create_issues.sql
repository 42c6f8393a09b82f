-- One row per issue. Identity: issue_id (stable across moves between
-- queues). _version is the source version (the issue's update time in ms):
-- ReplacingMergeTree keeps the row with the largest _version, and of equal
-- versions the last inserted. No partitioning by time: every version of an
-- issue lives in the one partition, so merges and FINAL always deduplicate.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}`
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
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`)
