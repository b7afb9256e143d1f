import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in skewless's own package.json, found from the running file upwards: `src/cli/index.ts`
 * in the repository, `dist/cli.js` in an installed package (tsup bundles the CLI into one file). Only a
 * package.json named skewless counts, never that of the project around it.
 */
export function packageVersion(runningFile: string): string {
  let dir = dirname(fileURLToPath(runningFile));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'skewless' && typeof manifest.version === 'string') return manifest.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of skewless above ${fileURLToPath(runningFile)}`);
    dir = parent;
  }
}
