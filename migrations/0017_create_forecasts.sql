-- Monte Carlo forecasts from the weekly throughput history (pkg/forecast),
-- written by `tracker-exporter forecast` and after each pass of the
-- one-process form. One row per computation, scope, question and horizon;
-- forecasts_latest shows the latest computation of each.
--   how_many: issues done in the next horizon_weeks weeks; pNN is the
--     number that NN % of the trials reached or passed (p50 >= p85 >= p95).
--   when: the date by which NN % of the trials had finished the remaining
--     open issues (date_p50 <= date_p85 <= date_p95).
-- A forecast without an answer (no throughput in the window, nothing open,
-- a date past the simulation's cap) says why in note; its missing dates
-- are 1970-01-01 and its missing numbers 0.
CREATE TABLE IF NOT EXISTS `{{.Database}}`.`forecasts`
(
    `computed_at` DateTime('UTC') COMMENT 'When the forecast was computed; the when-dates count from its date',
    `scope_kind` LowCardinality(String) COMMENT 'all, queue or epic',
    `scope` String COMMENT 'Queue key, epic key, or empty for all',
    `question` LowCardinality(String) COMMENT 'how_many or when',
    `horizon_weeks` UInt16 COMMENT 'how_many: the weeks ahead; 0 for when',
    `remaining` UInt32 COMMENT 'when: the open issues of the scope; 0 for how_many',
    `p50` Float64 COMMENT 'how_many: issues done in at least 50% of the trials; 0 for when',
    `p85` Float64 COMMENT 'how_many: issues done in at least 85% of the trials (the confident low end); 0 for when',
    `p95` Float64 COMMENT 'how_many: issues done in at least 95% of the trials; 0 for when',
    `date_p50` Date COMMENT 'when: 50% of the trials finished by this date; 1970-01-01 when none',
    `date_p85` Date COMMENT 'when: 85% of the trials finished by this date; 1970-01-01 when none',
    `date_p95` Date COMMENT 'when: 95% of the trials finished by this date; 1970-01-01 when none',
    `trials` UInt32 COMMENT 'Number of simulated futures',
    `window_weeks` UInt16 COMMENT 'Weeks of throughput history sampled',
    `weekly_throughput` Array(UInt32) COMMENT 'The history sampled: issues done per week, oldest first',
    `fingerprint` String COMMENT 'Hash of the inputs (question, horizon or remaining, history, trials, seed)',
    `note` String COMMENT 'Empty, or why there is no forecast or no date',
    `_version` UInt64 COMMENT 'Dedup version: the computation time in ms',
    `window_start` Date COMMENT 'Monday of the first week of weekly_throughput',
    `throughput_scope` String COMMENT 'Queue whose throughput was sampled (an epic: the queue holding most of its open issues); empty for all queues'
)
ENGINE = ReplacingMergeTree(`_version`)
PARTITION BY tuple()
ORDER BY (`scope_kind`, `scope`, `question`, `horizon_weeks`, `computed_at`);
CREATE VIEW IF NOT EXISTS `{{.Database}}`.`forecasts_latest` AS
SELECT *
FROM `{{.Database}}`.`forecasts` FINAL
WHERE (`scope_kind`, `scope`, `question`, `horizon_weeks`, `computed_at`) IN (
    SELECT `scope_kind`, `scope`, `question`, `horizon_weeks`, max(`computed_at`)
    FROM `{{.Database}}`.`forecasts`
    GROUP BY `scope_kind`, `scope`, `question`, `horizon_weeks`
)
