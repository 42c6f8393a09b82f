-- Work in progress now: per queue and current status, the issues that have
-- started (entered an inProgress status) and are not done (current status
-- not final), with the oldest start.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_wip` AS
SELECT
    `queue`,
    `status_key`,
    any(toString(`status`)) AS `status`,
    any(toString(`status_type`)) AS `status_type`,
    count() AS `wip`,
    min(`started_at`) AS `oldest_started_at`
FROM `{{.Database}}`.`{{.IssuesTable}}_view`
WHERE toUInt32(`started_at`) > 0 AND toUInt32(`done_at`) = 0
GROUP BY `queue`, `status_key`
