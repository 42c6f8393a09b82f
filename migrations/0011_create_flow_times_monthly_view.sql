-- Lead and cycle time percentiles per queue and calendar month (UTC) of
-- done_at, over the issues that are done (current status final). Times are
-- seconds, calendar and business. A percentile is exact: the element at
-- position floor(level * n) of the n sorted values (quantilesExact, the same
-- on 18.16 and current servers); NULL when the group has no value.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_flow_times_monthly` AS
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
    FROM `{{.Database}}`.`{{.IssuesTable}}_view`
    WHERE toUInt32(`done_at`) > 0
    GROUP BY `queue`, `month`
)
