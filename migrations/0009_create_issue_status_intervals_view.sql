-- Deduplicated rows of the issue's latest snapshot and transform only: a row
-- that an older snapshot or configuration produced and the latest no longer
-- does is hidden (it stays in the table, out of sight).
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.StatusIntervalsTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.StatusIntervalsTable}}` FINAL
WHERE (`issue_id`, `_version`, `_transformed_at`, `_generation`) IN (
    SELECT `issue_id`, `_version`, `_transformed_at`, `_generation`
    FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
)
