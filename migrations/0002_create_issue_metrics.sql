-- One row per issue and visited status. Identity: (issue_id, status_key);
-- rows of an older snapshot or transform generation are hidden by the view.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.IssueMetricsTable}}`
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
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `status_key`)
