-- Generation slots: a view reader sees every issue either in its previous
-- complete state or in its new one, never a gap or a mix, at every moment
-- of a load. The rows derived from an issue (metrics, intervals, changelog)
-- of successive transforms alternate between two slots, so the new rows
-- never replace the rows the views show; the issue row, written last, says
-- which slot is current, and the views follow it.
ALTER TABLE `{{.Database}}`.`{{.IssuesTable}}` ADD COLUMN `_slot` UInt8 COMMENT 'Slot (0 or 1) holding the rows derived from this version of the issue';
ALTER TABLE `{{.Database}}`.`{{.IssueMetricsTable}}` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `status_key`, `_slot`);
ALTER TABLE `{{.Database}}`.`{{.StatusIntervalsTable}}` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `status_key`, `visit_number`, `_slot`);
ALTER TABLE `{{.Database}}`.`{{.IssuesChangelogTable}}` ADD COLUMN `_slot` UInt8 COMMENT 'Generation slot: the rows the issue row points at are the ones shown', MODIFY ORDER BY (`issue_id`, `entry_id`, `field_index`, `_slot`);
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssuesTable}}_view`;
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL;
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssueMetricsTable}}_view`;
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssueMetricsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssueMetricsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
);
DROP TABLE IF EXISTS `{{.Database}}`.`{{.StatusIntervalsTable}}_view`;
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.StatusIntervalsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.StatusIntervalsTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
);
DROP TABLE IF EXISTS `{{.Database}}`.`{{.IssuesChangelogTable}}_view`;
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesChangelogTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesChangelogTable}}` FINAL
WHERE (`issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_slot`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
)
