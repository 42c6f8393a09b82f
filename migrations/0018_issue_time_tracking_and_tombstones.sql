-- Time tracking (spent, estimation, original estimation, in seconds of
-- Tracker's business time: a day is 8 hours, a week 5 days) and tombstones:
-- an issue Tracker no longer returns for the configured scope (deleted, or
-- hidden from the token) keeps its last row with is_deleted = 1, found by a
-- reconciliation at deleted_detected_at. issues_view and the views of the
-- derived tables hide such issues; issues_all_view keeps them. A view that
-- is dropped is created again without IF NOT EXISTS: a migrator racing
-- another then fails and retries rather than keep an old definition. The columns
-- follow raw, so that the non-internal columns come before the _ ones.
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `spent` Int64 COMMENT 'Time spent (spent field), seconds; a day is 8 h, a week 5 days' AFTER `raw`;
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `estimation` Int64 COMMENT 'Remaining estimate (estimation field), seconds; a day is 8 h, a week 5 days' AFTER `spent`;
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `original_estimation` Int64 COMMENT 'Original estimate (originalEstimation field), seconds; a day is 8 h, a week 5 days' AFTER `estimation`;
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `is_deleted` UInt8 COMMENT '1 when Tracker no longer returns the issue for the configured scope (deleted or hidden)' AFTER `original_estimation`;
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `deleted_detected_at` DateTime('UTC') COMMENT 'When a reconciliation found the issue gone; zero otherwise' AFTER `is_deleted`;
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssuesTable}}_view`;
-- The issues deduplicated, deleted (tombstoned) issues hidden.
CREATE VIEW `{{.Database}}`.`{{.IssuesTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
WHERE `is_deleted` = 0;
-- Every issue deduplicated, deleted ones too (is_deleted = 1).
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_all_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL;
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssueMetricsTable}}_view`;
-- Deduplicated rows of the issue's latest snapshot and transform only, of
-- issues that are not deleted.
CREATE VIEW `{{.Database}}`.`{{.IssueMetricsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssueMetricsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
DROP TABLE IF EXISTS `{{.Database}}`.`{{.StatusIntervalsTable}}_view`;
-- Deduplicated rows of the issue's latest snapshot and transform only, of
-- issues that are not deleted.
CREATE VIEW `{{.Database}}`.`{{.StatusIntervalsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.StatusIntervalsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
);
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssuesChangelogTable}}_view`;
-- Deduplicated rows of the issue's latest snapshot and transform only, of
-- issues that are not deleted.
CREATE VIEW `{{.Database}}`.`{{.IssuesChangelogTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesChangelogTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
    WHERE `is_deleted` = 0
)
