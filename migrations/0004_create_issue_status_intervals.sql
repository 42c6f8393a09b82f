-- One row per visit to a status: the fact table for CFD, WIP, ageing WIP
-- and throughput. Identity: (issue_id, status_key, visit_number).
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.StatusIntervalsTable}}`
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
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `status_key`, `visit_number`)
