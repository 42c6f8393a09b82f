-- The old tool's view: the issues table deduplicated.
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`{{.IssuesTable}}_view` AS
SELECT *
FROM `{{.Database}}`.`{{.IssuesTable}}` FINAL
