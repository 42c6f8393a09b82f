-- Cumulative flow per day (UTC), queue and status: the number of issues in
-- the status at the end of the day, from the status visits. A visit counts
-- on every day from the one it began to the last one it outlasted; an open
-- visit counts up to today. The window is the last 1096 days (three years)
-- up to today, which bounds the rows the arrayJoin makes.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_cfd_daily` AS
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
        FROM `{{.Database}}`.`{{.StatusIntervalsTable}}_view`
    )
    WHERE `last_day` >= `first_day`
)
GROUP BY `day`, `queue`, `status_key`
