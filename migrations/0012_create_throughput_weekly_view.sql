-- Weekly throughput per queue: issues that became done in the week (Monday
-- to Sunday, UTC, by done_at) and are still done. throughput leaves out
-- the issues that ended in a cancelled status, counted in cancelled.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_throughput_weekly` AS
SELECT
    `queue`,
    toMonday(`done_at`) AS `week`,
    countIf(`status_type` != 'cancelled') AS `throughput`,
    countIf(`status_type` = 'cancelled') AS `cancelled`,
    sumIf(toFloat64(`story_points`), `status_type` != 'cancelled') AS `story_points`
FROM `{{.Database}}`.`{{.IssuesTable}}_view`
WHERE toUInt32(`done_at`) > 0
GROUP BY `queue`, `week`
