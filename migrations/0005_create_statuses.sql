-- The status directory. The newest load of a key wins.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`{{.StatusesTable}}`
(
    `key` String COMMENT 'Status key',
    `name` String COMMENT 'Display name',
    `type` LowCardinality(String) COMMENT 'Status type: new, inProgress, paused, done, cancelled',
    `_version` UInt64 COMMENT 'Load time in ms; the newest wins'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`key`)
