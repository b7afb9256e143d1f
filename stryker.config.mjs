// Mutation testing: `npm run mutation`. Stryker plants small bugs (a `<` for a `<=`, a dropped
// condition) in the modules below, one at a time, and counts those the tests catch. Incremental: the
// result of each mutant is kept in reports/stryker-incremental.json, so a rerun tests only what
// changed. Not part of `npm test`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: ['src/aws/retry.ts', 'src/sql/reference.ts', 'src/aws/collapse.ts', 'src/lambda/batch.ts', 'src/store/rounded-delete.ts', 'src/lambda/handlers.ts', 'src/lambda/firehose.ts', 'src/lambda/decode.ts', 'src/lambda/options.ts', 'src/sql/plan.ts', 'src/sql/render.ts', 'src/testing/memory-store.ts:25-86', 'src/local/online-store.ts', 'src/pipeline/reducer.ts', 'src/audit/audit.ts', 'src/audit/causes.ts', 'src/training/training-set.ts', 'src/training/output.ts', 'src/backfill/backfill.ts', 'src/backfill/checkpoint.ts', 'src/backfill/chunk.ts', 'src/backfill/progress.ts', 'src/backfill/replay.ts', 'src/aws/dynamodb-online.ts', 'src/backfill/plan.ts', 'src/backfill/tabular.ts', 'src/backfill/sources/csv.ts', 'src/backfill/sources/index.ts', 'src/backfill/sources/ndjson.ts', 'src/backfill/sources/parquet.ts', 'src/backfill/sources/records.ts', 'src/backfill/sources/source.ts', 'src/training/engine.ts', 'src/audit/lineage.ts', 'src/audit/render.ts', 'src/audit/vectors.ts', 'src/pipeline/stateful-ingest.ts', 'src/csv/text.ts'],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 85, low: 70, break: null },
  concurrency: 2,
  tempDirName: '.stryker-tmp',
};
