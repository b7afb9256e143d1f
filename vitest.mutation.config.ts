import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// What `npm run mutation` runs under each mutant: the fast tests of the core modules. The servers
// start once per run (globalSetup), for the handlers' tests whose state lives on dynalite.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/retry.test.ts', 'test/pit-edges.test.ts', 'test/serving-rule.test.ts', 'test/training-set.test.ts', 'test/audit-causes.test.ts', 'test/collapse.test.ts', 'test/batch-flow.test.ts', 'test/local-stores.test.ts', 'test/in-process-online.test.ts', 'test/lambda.test.ts', 'test/stream-positions.test.ts', 'test/handlers.test.ts', 'test/aggregations.test.ts', 'test/aggregation-parity.test.ts', 'test/aggregation-state.test.ts', 'test/audit.test.ts', 'test/training-file.test.ts', 'test/request-features.test.ts', 'test/backfill.test.ts', 'test/online-backends.test.ts', 'test/dynamodb-store.test.ts', 'test/audit-vectors.test.ts', 'test/aws-backfill.test.ts', 'test/lineage.test.ts', 'test/audit-render.test.ts', 'test/tabular.test.ts', 'test/sources.test.ts', 'test/backfill-plan.test.ts', 'test/stateful-ingest.test.ts', 'test/exactly-once.test.ts', 'test/store-argument.test.ts', 'test/dead-letter.test.ts', 'test/decode.test.ts'],
    globalSetup: base.test?.globalSetup,
    testTimeout: 30_000,
  },
});
