import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../errors.js';

/** The file a demo writes into its folder: the folder is the demo's, and its next run may replace what it wrote there. */
export const DEMO_MARKER = '.skewless-demo';

/** What a demo's folder of a release before the marker always holds: its embedded store. */
const EARLIER_DEMO = join('store', 'online.duckdb');

/**
 * Makes `dir` ready for a demo that writes the entries `own` into it: made if missing, and what an
 * earlier run wrote (those entries) removed. A folder is the demo's when it holds the marker, or
 * only entries of `own` with the demo's store among them (a folder of a release before the marker;
 * a user's own `store/` alone is not taken for one). Any other folder that is not empty is refused
 * and left as it was: a demo deletes only what a demo made.
 */
export function prepareDemoFolder(dir: string, own: readonly string[]): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new ConfigurationError('INVALID_CONFIG', `${dir} is a file: the demo needs a folder; choose another --dir`);
  }
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  const foreign = entries.filter((entry) => entry !== DEMO_MARKER && !own.includes(entry)).sort();
  const earlierDemo = foreign.length === 0 && existsSync(join(dir, EARLIER_DEMO));
  if (entries.length > 0 && !entries.includes(DEMO_MARKER) && !earlierDemo) {
    const listed = foreign.length > 0 ? foreign : entries.sort();
    const shown = listed.length > 5 ? `${listed.slice(0, 5).join(', ')} and ${listed.length - 5} more` : listed.join(', ');
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `${dir} holds files the demo did not make (${shown}): the demo runs in a new or empty folder, or one an earlier demo made; choose another --dir`,
    );
  }
  for (const entry of entries) if (own.includes(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARKER), 'Made by `skewless demo`, which replaces what it wrote here each time it runs.\n');
}
