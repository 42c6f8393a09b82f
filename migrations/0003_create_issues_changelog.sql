-- One row per changed field of each changelog entry, values kept whole.
-- Identity: (issue_id, entry_id, field_index).
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.IssuesChangelogTable}}`
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
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`issue_id`, `entry_id`, `field_index`)
