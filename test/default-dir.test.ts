import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// README: the embedded stores keep their files under ./.skewless unless given a `dir`. The working
// directory is the process's, which a test thread cannot change: the program runs in a process of its
// own, started in an empty directory, from the source bundled by esbuild.

const root = fileURLToPath(new URL('../', import.meta.url));
const scratch = join(root, 'node_modules', '.cache', 'skewless-test', 'default-dir');
mkdirSync(scratch, { recursive: true });
const cwd = mkdtempSync(join(tmpdir(), 'skewless-default-dir-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** Writes `body` (an ES module importing skewless) next to node_modules, bundles it, and runs it in `cwd`; returns its stdout. */
function runIn(name: string, body: string): string {
  const entry = join(scratch, `${name}.mjs`);
  const outfile = join(scratch, `${name}.bundle.mjs`);
  writeFileSync(entry, body);
  const alias = ['skewless=./src/index.ts', 'skewless/local=./src/local/index.ts'].map((a) => `--alias:${a}`);
  execFileSync(
    join(root, 'node_modules', '.bin', 'esbuild'),
    [entry, '--bundle', '--platform=node', '--format=esm', ...alias, '--external:@aws-sdk/*', '--external:@duckdb/*', '--external:hyparquet*', '--external:zod', `--outfile=${outfile}`, '--log-level=error'],
    { cwd: root },
  );
  return execFileSync(process.execPath, [outfile], { cwd, encoding: 'utf8' });
}

const group = `
import { z } from 'zod';
import { createFeatureStore, defineFeatureGroup } from 'skewless';
const row = z.object({ id: z.string(), t: z.date(), n: z.number() });
const cards = defineFeatureGroup({ name: 'default-dir-cards', recordIdentifier: 'id', eventTime: 't', source: row, features: row, transform: (e) => e });
`;

describe('the embedded stores without a dir', () => {
  it('keep their files under .skewless in the working directory, each store on its own and all of localStores()', () => {
    runIn(
      'each',
      `${group}
import { localAggregationState, localOffline, localOnline } from 'skewless/local';
const [online, offline, state] = await Promise.all([localOnline(), localOffline(), localAggregationState()]);
const store = createFeatureStore({ online, offline, aggregationState: state });
await store.put(cards, [{ id: 'a', t: new Date(0), n: 1 }]);
await store.close();
await state.close?.();
`,
    );
    expect(readdirSync(join(cwd, '.skewless')).filter((f) => !f.endsWith('.wal')).sort()).toEqual(['aggregation-state.duckdb', 'offline', 'online.duckdb']);
    expect(readdirSync(join(cwd, '.skewless', 'offline'), { recursive: true }).some((f) => String(f).endsWith('.parquet'))).toBe(true);

    // localStores() opens the same files: the record written above is there, online and offline.
    const out = runIn(
      'stores',
      `${group}
import { localStores } from 'skewless/local';
const store = createFeatureStore(localStores());
const { offline } = await store.backends();
console.log(JSON.stringify({ online: (await store.get(cards, 'a'))?.n, offline: (await offline.scan(cards)).length }));
await store.close();
`,
    );
    expect(JSON.parse(out)).toEqual({ online: 1, offline: 1 });
  });
});
