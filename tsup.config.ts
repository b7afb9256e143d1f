import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: one entry per subpath in package.json "exports".
    entry: { index: 'src/index.ts', local: 'src/local/index.ts', aws: 'src/aws/index.ts', lambda: 'src/lambda/index.ts', testing: 'src/testing/index.ts', sql: 'src/sql/index.ts', 'backfill-thread': 'src/local/backfill-thread.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    clean: true,
    treeshake: true,
    splitting: true,
    // Our code arrives in users' Lambda bundles, which README builds without syntax minification
    // (it would rewrite their transforms and so their fingerprints): minify ours here instead.
    minifySyntax: true,
  },
  {
    // The CLI: ESM only, with a shebang; not part of the typed API.
    entry: { cli: 'src/cli/index.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
