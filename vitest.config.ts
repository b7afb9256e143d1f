import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Examples import 'skewless' as users do; tests run them against the source, not a build.
    alias: [
      { find: /^skewless$/, replacement: `${src}index.ts` },
      { find: /^skewless\/(.*)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: {
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    globalSetup: ['./test/setup/servers.ts'],
    testTimeout: 30_000,
  },
});
