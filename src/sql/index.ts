// skewless/sql: the point-in-time plan and its SQL, for running a training set's join in your own
// engine (a warehouse, dbt). trainingSet() runs the same plan on DuckDB, Athena or in memory.
export { buildTrainingPlan } from './plan.js';
export type { JoinStep, TrainingPlan, TrainingPlanOptions } from './plan.js';
export { DUCKDB, renderTrainingSql, TRINO } from './render.js';
export type { Dialect, SqlSources } from './render.js';
