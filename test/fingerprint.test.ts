import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalSource } from '../src/schema/source-text.js';
import { isFeatureGroup } from '../src/index.js';
import { transforms } from './fixtures/transforms/corpus.js';
import { handWritten } from './fixtures/transforms/hand-written.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const scratch = join(root, 'node_modules', '.cache', 'skewless-test', 'fingerprint');
mkdirSync(scratch, { recursive: true });

/** The esbuild command README tells users to bundle their Lambda with, as arguments. */
function readmeBundleArgs(): string[] {
  const line = readFileSync(join(root, 'README.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('npx esbuild src/ingest.ts '));
  if (!line) throw new Error('README has no "npx esbuild src/ingest.ts ..." line');
  return line
    .split(/\s+/)
    .slice(3)
    .filter((arg) => !arg.startsWith('--outfile='));
}

let built = 0;
/** Bundles `entry` with esbuild's CLI and these options; skewless resolves to the source, as vitest does. */
async function bundle(entry: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const outfile = join(scratch, `bundle-${++built}.mjs`);
  const alias = ['skewless=./src/index.ts', 'skewless/aws=./src/aws/index.ts', 'skewless/lambda=./src/lambda/index.ts', 'skewless/testing=./src/testing/index.ts', 'skewless/local=./src/local/index.ts'];
  execFileSync(
    join(root, 'node_modules', '.bin', 'esbuild'),
    [entry, ...args, ...alias.map((a) => `--alias:${a}`), '--external:@aws-sdk/*', '--external:@duckdb/*', '--external:hyparquet*', '--external:zod', `--outfile=${outfile}`, '--log-level=error'],
    { cwd: root },
  );
  return (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
}

describe('canonicalSource', () => {
  const same = (a: string, b: string) => expect(canonicalSource(a)).toBe(canonicalSource(b));
  const differ = (a: string, b: string) => expect(canonicalSource(a)).not.toBe(canonicalSource(b));

  it('ignores formatting: comments, whitespace, quotes, semicolons, trailing commas', () => {
    same(`(e) => ({\n  card_id: e.card_id, // the key\n  is_foreign: e.country !== 'US',\n})`, 'e=>({card_id:e.card_id,is_foreign:e.country!=="US"})');
    same('e => { const a = 1; return a; }', 'e=>{const a=1\nreturn a}');
  });

  it('ignores the names a minifier gives to parameters, locals and module-level helpers', () => {
    same('(txn) => ({ amount: toCents(txn.amount) / 100 })', '(e) => ({ amount: a(e.amount) / 100 })');
    same('(txn) => { const total = txn.a + txn.b; return { total }; }', 't => { const n = t.a + t.b; return { total: n }; }');
    // A bundler flattens a namespace import's member into a renamed binding.
    same('e => helpers.cents(e.a) + z.NEVER', 'e => n(e.a) + NEVER');
  });

  it('follows scopes: names reused by sibling scopes are still told apart', () => {
    same('e => [e.a.map((x) => x + 1), e.b.map((y) => y * 2)]', 'e => [e.a.map((t) => t + 1), e.b.map((t) => t * 2)]');
    same('e => { for (const tag of e.t) f(tag); for (let i = 0; i < 3; i++) g(i); }', 'e => { for (const n of e.t) f(n); for (let n = 0; n < 3; n++) g(n); }');
    differ('e => e.a.map((x) => x + e.b)', 'e => e.a.map((x) => x + x.b)');
  });

  it('spells strings, numbers and keys one way', () => {
    same(`e => ({ 'a': "it's", b: 1000, c: 0.50, d: \`plain\` })`, `e => ({ a: 'it\\'s', "b": 1e3, c: .5, d: "plain" })`);
    same('e => ({ big: 1_000n })', 'e => ({ big: 1000n })');
  });

  it('drops the parentheses a bundler drops, and keeps the ones that change the meaning', () => {
    same('e => ((e.a * e.b) + e.c)', 'e => e.a * e.b + e.c');
    same('e => { return ({ a: (e.x) }); }', 'e => { return { a: e.x } }');
    same('e => ((e.a - e.b) - e.c)', 'e => e.a - e.b - e.c');
    same('e => (e.h < 6) || (e.h >= 22)', 'e => e.h < 6 || e.h >= 22');
    differ('e => (e.a + e.b) * e.c', 'e => e.a + e.b * e.c');
    differ('e => e.a - (e.b - e.c)', 'e => e.a - e.b - e.c');
  });

  it('tells different code apart', () => {
    differ('e => e.a + 1', 'e => e.a + 2');
    differ('e => e.a + 1', 'e => e.b + 1');
    differ('e => String(e.a)', 'e => Number(e.a)');
    differ('e => typeof e', 'e => typeofe');
    differ('e => e.a > 1', 'e => e.a >= 1');
  });
});

describe('fingerprints survive bundling', () => {
  const readme = readmeBundleArgs();
  const variants: [string, readonly string[]][] = [
    ['esbuild --bundle', ['--bundle', '--platform=node', '--format=esm']],
    ['--minify-whitespace', ['--bundle', '--platform=node', '--format=esm', '--minify-whitespace']],
    ['--minify-identifiers', ['--bundle', '--platform=node', '--format=esm', '--minify-identifiers']],
    ["README's command", readme],
  ];

  it.each(variants)('the corpus of transforms, bundled with %s', async (_name, args) => {
    const bundled = (await bundle('test/fixtures/transforms/corpus.ts', args)) as { transforms: Record<string, () => unknown>; changed: Record<string, () => unknown> };
    for (const [name, transform] of Object.entries(transforms)) {
      expect({ name, text: canonicalSource((bundled.transforms[name] as () => unknown).toString()) }).toEqual({ name, text: canonicalSource(transform.toString()) });
    }
    // Changed code still hashes differently once bundled.
    expect(canonicalSource(String(bundled.changed['expression']))).not.toBe(canonicalSource(transforms.expression.toString()));
    expect(canonicalSource(String(bundled.changed['helper']))).not.toBe(canonicalSource(String(bundled.changed['global'])));
  });

  it('the same transforms written by hand in plain JavaScript (as plain Node runs them)', () => {
    for (const [name, transform] of Object.entries(handWritten)) {
      expect({ name, text: canonicalSource(transform.toString()) }).toEqual({ name, text: canonicalSource(transforms[name as keyof typeof transforms].toString()) });
    }
  });

  it("every example's feature groups, bundled with README's command", async () => {
    const groupsOf = (module: Record<string, unknown>) =>
      Object.fromEntries(
        Object.values(module)
          .filter(isFeatureGroup)
          .map((g) => [g.name, g.fingerprint]),
      );
    const entries = ['examples/quickstart/card-activity.ts', 'examples/fraud-detection/features.ts', 'examples/surge-pricing/features.ts', 'examples/firehose-offline/transform.ts'];
    let groups = 0;
    for (const entry of entries) {
      const direct = groupsOf((await import(pathToFileURL(join(root, entry)).href)) as Record<string, unknown>);
      const bundled = groupsOf(await bundle(entry, readme));
      expect(bundled).toEqual(direct);
      groups += Object.keys(direct).length;
    }
    expect(groups).toBeGreaterThanOrEqual(4);
  });

  it('keeps error class names through minification', async () => {
    const source = join(scratch, 'errors-entry.ts');
    writeFileSync(source, `export * from '${join(root, 'src/errors.ts')}';\n`);
    const errors = await bundle(source, ['--bundle', '--platform=node', '--format=esm', '--minify']);
    const names = Object.entries(errors)
      .filter(([exported, value]) => typeof value === 'function' && /^[A-Z]\w*Error$/.test(exported))
      .map(([exported, Class]) => {
        const instance = exported === 'SkewlessError' ? new (Class as new (c: string, m: string) => Error)('WRITE_FAILED', 'x') : exported === 'DefinitionError' || exported === 'ConfigurationError' || exported === 'BackendError' || exported === 'DataError' ? new (Class as new (c: string, m: string) => Error)('INVALID_CONFIG', 'x') : new (Class as new (m: string) => Error)('x');
        return [exported, instance.name];
      });
    expect(names.length).toBe(9);
    for (const [exported, name] of names) expect(name).toBe(exported);
  });
});
