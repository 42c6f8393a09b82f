-- Ageing work in progress: one row per started issue that is not done, with
-- its age (seconds since started_at) and the time in its current status,
-- both measured now, when the view is read.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_wip_ageing` AS
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
FROM `{{.Database}}`.`{{.IssuesTable}}_view`
WHERE toUInt32(`started_at`) > 0 AND toUInt32(`done_at`) = 0
