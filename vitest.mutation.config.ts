import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// What `npm run mutation` runs under each mutant: the fast tests of the core modules, which need no
// server (the suites on dynalite, moto and the local stack stay in `npm test`).
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/retry.test.ts', 'test/pit-edges.test.ts', 'test/serving-rule.test.ts', 'test/training-set.test.ts', 'test/audit-causes.test.ts', 'test/collapse.test.ts', 'test/batch-flow.test.ts', 'test/local-stores.test.ts', 'test/in-process-online.test.ts'],
    testTimeout: 30_000,
  },
});
