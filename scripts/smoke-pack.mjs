// Packs the package as npm would publish it, installs the tarball into a scratch project and checks
// that `import`, `require` and the CLI all work from it. No network: zod is linked from here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const scratch = mkdtempSync(join(tmpdir(), 'skewless-smoke-'));
const run = (cmd, args, cwd = scratch) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

try {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], root))[0];
  const files = packed.files.map((f) => f.path);
  const forbidden = files.filter((f) => /^(src|test|bench|examples|scripts)\//.test(f) || f.endsWith('.test.ts'));
  if (forbidden.length > 0) throw new Error(`the package would ship files it must not: ${forbidden.join(', ')}`);
  for (const required of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js']) {
    if (!files.includes(required)) throw new Error(`the package is missing ${required}`);
  }

  const modules = join(scratch, 'node_modules');
  mkdirSync(join(modules, 'skewless'), { recursive: true });
  run('tar', ['-xzf', join(scratch, packed.filename), '-C', join(modules, 'skewless'), '--strip-components=1']);
  symlinkSync(join(root, 'node_modules', 'zod'), join(modules, 'zod'), 'dir');
  writeFileSync(join(scratch, 'package.json'), '{ "name": "smoke", "private": true }');

  const group = `{
    name: 'smoke', recordIdentifier: 'id', eventTime: 't',
    source: z.object({ id: z.string(), ts: isoTimestamp() }),
    features: z.object({ id: z.string(), t: z.date() }),
    transform: (e) => ({ id: e.id, t: e.ts }),
  }`;
  const check = `
    const g = defineFeatureGroup(${group});
    const r = g.process({ id: 'a', ts: '2024-05-01T00:00:00Z' });
    if (!r.ok || r.encoded[1].ValueAsString !== '2024-05-01T00:00:00.000Z') throw new Error('pipeline failed: ' + JSON.stringify(r));
    if (!(g.process(null).error instanceof SkewlessError)) throw new Error('errors are not SkewlessError');
    console.log(g.fingerprint);`;
  // skewless/local must import without DuckDB installed: it loads DuckDB only when a store opens.
  const local = `if (typeof startLocalStack !== 'function' || typeof localOnline !== 'function') throw new Error('skewless/local is incomplete');`;
  writeFileSync(join(scratch, 'esm.mjs'), `import { z } from 'zod';\nimport { defineFeatureGroup, isoTimestamp, SkewlessError } from 'skewless';\nimport { startLocalStack, localOnline } from 'skewless/local';\n${local}\n${check}`);
  writeFileSync(join(scratch, 'cjs.cjs'), `const { z } = require('zod');\nconst { defineFeatureGroup, isoTimestamp, SkewlessError } = require('skewless');\nconst { startLocalStack, localOnline } = require('skewless/local');\n${local}\n${check}`);
  const esm = run(process.execPath, ['esm.mjs']).trim();
  const cjs = run(process.execPath, ['cjs.cjs']).trim();
  if (esm !== cjs) throw new Error(`import and require disagree on the fingerprint: ${esm} vs ${cjs}`);
  // A Lambda bundled from the package must carry only what it uses: no Parquet writer, no DuckDB,
  // no local stores (every optional-module loader is a pure call, so unused ones are dropped).
  writeFileSync(
    join(scratch, 'lambda.mjs'),
    `import { z } from 'zod';\nimport { createFeatureStore, defineFeatureGroup, isoTimestamp } from 'skewless';\nimport { sageMakerOnline } from 'skewless/aws';\nimport { kinesisHandler } from 'skewless/lambda';\nconst g = defineFeatureGroup(${group});\nexport const handler = kinesisHandler(g, { store: createFeatureStore({ online: sageMakerOnline(), offline: false }) });\n`,
  );
  const { buildSync } = await import('esbuild');
  const bundle = buildSync({
    entryPoints: [join(scratch, 'lambda.mjs')],
    bundle: true,
    minify: true,
    write: false,
    platform: 'node',
    format: 'esm',
    // As the README tells users: optional peers that are not installed are marked external.
    external: ['@aws-sdk/*', 'zod', 'hyparquet', 'hyparquet-writer', '@duckdb/node-api'],
    absWorkingDir: scratch,
    logLevel: 'error',
  }).outputFiles[0].text;
  // 'a Parquet INT64' is a message of skewless' own Parquet writer.
  for (const unwanted of ["'hyparquet", '"hyparquet', 'a Parquet INT64', 'duckdb', 'startLocalStack']) {
    if (bundle.includes(unwanted)) throw new Error(`a Lambda bundle of kinesisHandler + sageMakerOnline contains ${unwanted}`);
  }
  const help = run(process.execPath, [join(modules, 'skewless', 'dist', 'cli.js'), '--help']);
  if (!help.includes('Usage: skewless')) throw new Error('the CLI did not print its help');
  console.log(`smoke test passed: ${files.length} files packed; import, require, the CLI and a lean Lambda bundle (${(bundle.length / 1024).toFixed(1)} KB) work (${readdirSync(modules).join(', ')})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
