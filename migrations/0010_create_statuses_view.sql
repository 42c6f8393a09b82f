-- The status directory deduplicated.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.StatusesTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.StatusesTable}}` FINAL
