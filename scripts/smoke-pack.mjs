// A user's own project, built from nothing: the package packed as npm publishes it, installed into a
// fresh app with plain `npm install` (no lockfile, no --legacy-peer-deps), then used as the README
// says: type-checked with skipLibCheck off while only zod and the SageMaker runtime client are
// installed, a Lambda bundled with README's exact esbuild command and run against the local stack,
// fingerprints compared bundled and unbundled, `npx skewless demo` and `npx skewless local` run from
// the installed package, and the package required from CommonJS. `SMOKE_NODES=<node>:<node>` runs the
// programs under each of those Node binaries (CI: the machine's and Node 24); default this process's.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const nodes = (process.env.SMOKE_NODES ?? process.execPath).split(':').filter(Boolean);
const node = process.execPath;
const scratch = mkdtempSync(join(tmpdir(), 'skewless-user-'));
const app = join(scratch, 'app');
const started = Date.now();
const step = (text) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}\n`);
const run = (cmd, args, options = {}) =>
  execFileSync(cmd, args, { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' }, ...options });
const npm = (...args) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error']);
const fail = (message) => {
  throw new Error(message);
};

try {
  step(`packing (programs will run on ${nodes.map((n) => run(n, ['--version'], { cwd: root }).trim()).join(' and ')})`);
  // dist/ as built: `npm run check:package` builds first, and CI built it before its suite (whose
  // CLI tests run dist/). Packing without prepack spares building the same sources again.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))[0];
  const files = packed.files.map((f) => f.path);
  const forbidden = files.filter((f) => /^(src|test|bench|examples|scripts)\//.test(f) || f.endsWith('.test.ts'));
  if (forbidden.length > 0) fail(`the package would ship files it must not: ${forbidden.join(', ')}`);
  for (const required of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js', 'dist/backfill-thread.js']) {
    if (!files.includes(required)) fail(`the package is missing ${required}${required.startsWith('dist/') ? ' (run npm run build first)' : ''}`);
  }
  step('are-the-types-wrong on the tarball: every entry resolves, typed, from ESM and CommonJS');
  execFileSync(join(root, 'node_modules', '.bin', 'attw'), [join(scratch, packed.filename), '--profile', 'node16'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

  step('a fresh app: npm install <tarball>, zod and the SageMaker runtime client');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }, null, 2));
  npm('install', join(scratch, packed.filename));
  npm('install', 'zod', '@aws-sdk/client-sagemaker-featurestore-runtime');
  // Dev tools a TypeScript Lambda project has; the type check must not need any other skewless peer.
  npm('install', '--save-dev', '@types/node@22');

  // The README's quick-start group and Lambda (zod/mini: the small bundle), a multi-statement group
  // with a helper, and the examples' definitions.
  writeFileSync(
    join(app, 'src', 'features.ts'),
    `import * as z from 'zod/mini';
import { count, defineFeatureGroup, isoTimestamp, sum } from 'skewless';

export const cardActivity = defineFeatureGroup({
  name: 'card-activity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount_cents: z.int(), country: z.string(), ts: isoTimestamp() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), is_foreign: z.boolean() }),
  transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100, is_foreign: e.country !== 'US' }),
});

const HIGH_RISK = new Set(['BR', 'NG']);
function toAmount(cents: number): number {
  return Math.round(cents) / 100;
}

export const cardRisk = defineFeatureGroup({
  name: 'card-risk',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount_cents: z.int(), country: z.string(), ts: isoTimestamp() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), risk: z.string() }),
  transform: (txn) => {
    const amount = toAmount(txn.amount_cents);
    let risk = 'low';
    if (HIGH_RISK.has(txn.country)) {
      risk = 'high';
    } else if (amount > 1000) {
      risk = 'medium';
    }
    return { card_id: txn.card_id, event_time: txn.ts, amount, risk };
  },
  helpers: [toAmount],
  aggregations: { n_1h: count({ window: '1h' }), amount_24h: sum('amount', { window: '24h' }) },
});
`,
  );
  writeFileSync(
    join(app, 'src', 'ingest.ts'),
    `import { createFeatureStore } from 'skewless';
import { s3DeadLetter, sageMakerOnline, sqsDeadLetter } from 'skewless/aws';
import { kinesisHandler } from 'skewless/lambda';
import { cardActivity } from './features.js';

const store = createFeatureStore({
  online: sageMakerOnline({ concurrency: 32 }),
  offline: false,
  deadLetter: sqsDeadLetter({
    queueUrl: process.env.DEAD_LETTER_QUEUE_URL!,
    oversized: s3DeadLetter({ bucket: process.env.DEAD_LETTER_BUCKET! }),
  }),
});

export const handler = kinesisHandler(cardActivity, { store });
`,
  );
  // The other entries' declarations name Node's globals too (AbortSignal, URL).
  writeFileSync(
    join(app, 'src', 'local.ts'),
    `import { createFeatureStore } from 'skewless';
import { localStores } from 'skewless/local';
import { memoryOnline } from 'skewless/testing';

export const store = createFeatureStore(localStores({ dir: '.skewless' }));
export const online = memoryOnline();
`,
  );
  for (const example of ['fraud-detection', 'surge-pricing']) cpSync(join(root, 'examples', example, 'features.ts'), join(app, 'src', `${example}.ts`));

  step('type check with skipLibCheck off (only zod and the SageMaker runtime client installed)');
  // `types: []`, as TypeScript 6 and later default to, and ES's library alone (no DOM), as
  // @tsconfig/node* sets it: the package's declarations bring in @types/node where they name its types.
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: [], lib: ['ES2022'] }, include: ['src'] }, null, 2),
  );
  try {
    run(node, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  } catch (error) {
    fail(`the app does not type-check:\n${error.stdout}${error.stderr}`);
  }

  step("bundle the Lambda with README's exact esbuild command");
  const line = readFileSync(join(root, 'README.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('npx esbuild src/ingest.ts '));
  if (!line) fail('README has no "npx esbuild src/ingest.ts ..." command');
  const args = line.split(/\s+/).slice(2);
  const esbuild = join(root, 'node_modules', '.bin', 'esbuild');
  try {
    run(esbuild, [...args, '--log-level=error']);
  } catch (error) {
    fail(`README's bundle command failed in the app:\n${error.stdout}${error.stderr}`);
  }
  const bundle = readFileSync(join(app, 'dist', 'ingest.mjs'), 'utf8');
  for (const unwanted of ['@duckdb/node-api', 'startLocalStack', 'ParquetFileBuilder', 'hyparquet']) {
    if (bundle.includes(unwanted)) fail(`the Lambda bundle of kinesisHandler + sageMakerOnline contains ${unwanted}`);
  }
  step(`bundle: ${(statSync(join(app, 'dist', 'ingest.mjs')).size / 1024).toFixed(1)} KB minified (zod/mini included, AWS SDK external)`);

  step('fingerprints: the same bundled as unbundled, for every group');
  const fingerprints = (module) => `const m = await import(${JSON.stringify(module)}); const out = {}; for (const v of Object.values(m)) if (v && typeof v === 'object' && typeof v.fingerprint === 'string') out[v.name] = v.fingerprint; console.log(JSON.stringify(out));`;
  // Unbundled: each file compiled on its own (as tsc would), imports kept.
  run(esbuild, ['src/*.ts', '--outdir=unbundled', '--format=esm', '--platform=node', '--log-level=error']);
  const entries = ['features', 'fraud-detection', 'surge-pricing'];
  for (const entry of entries) {
    run(esbuild, [`src/${entry}.ts`, ...args.slice(1).filter((a) => !a.startsWith('--outfile=')), `--outfile=bundled/${entry}.mjs`, '--log-level=error']);
    for (const program of nodes) {
      const plain = JSON.parse(run(program, ['--input-type=module', '-e', fingerprints(join(app, 'unbundled', `${entry}.js`))]).trim());
      const bundled = JSON.parse(run(program, ['--input-type=module', '-e', fingerprints(join(app, 'bundled', `${entry}.mjs`))]).trim());
      if (Object.keys(plain).length === 0 || JSON.stringify(plain) !== JSON.stringify(bundled)) fail(`fingerprints of ${entry} differ: unbundled ${JSON.stringify(plain)}, bundled ${JSON.stringify(bundled)}`);
    }
  }

  step('the optional peers the README names, by plain npm install');
  npm('install', '@duckdb/node-api', '@aws-sdk/client-sqs', '@aws-sdk/client-s3', '@aws-sdk/client-sagemaker', 'hyparquet');
  // Every other optional peer resolves on the registry within its range (nothing installed).
  const peers = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).peerDependencies;
  for (const [name, range] of Object.entries(peers)) {
    if (!run('npm', ['view', `${name}@${range}`, 'version', '--json'], { cwd: scratch }).trim()) fail(`no published version of ${name} matches the peer range ${range}`);
  }

  for (const program of nodes) {
    const version = run(program, ['--version']).trim();
    step(`${version}: the bundled Lambda against the local stack: a record online, a poison record in SQS with its error named`);
    writeFileSync(
      join(app, 'lambda-run.mjs'),
      `import { startLocalStack } from 'skewless/local';
  import { kinesisEvent } from 'skewless/testing';
  import { SageMakerClient, CreateFeatureGroupCommand } from '@aws-sdk/client-sagemaker';
  import { SageMakerFeatureStoreRuntimeClient, GetRecordCommand } from '@aws-sdk/client-sagemaker-featurestore-runtime';
  import { SQSClient, CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
  const stack = await startLocalStack({ memory: true });
  Object.assign(process.env, stack.env);
  const sqs = new SQSClient(stack.clientConfig);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'dead-letter' }));
  process.env.DEAD_LETTER_QUEUE_URL = QueueUrl;
  process.env.DEAD_LETTER_BUCKET = 'dead-letter';
  const { cardActivity } = await import('./unbundled/features.js');
  await new SageMakerClient(stack.clientConfig).send(new CreateFeatureGroupCommand({ FeatureGroupName: cardActivity.name, RecordIdentifierFeatureName: 'card_id', EventTimeFeatureName: 'event_time', FeatureDefinitions: [...cardActivity.featureDefinitions], OnlineStoreConfig: { EnableOnlineStore: true } }));
  const { handler } = await import('./dist/ingest.mjs');
  const response = await handler(kinesisEvent([{ card_id: 'c1', amount_cents: 1250, country: 'FR', ts: '2026-11-30T10:00:00Z' }, { card_id: 'c2', amount_cents: 'lots', country: 'US', ts: '2026-11-30T10:00:00Z' }]));
  if (response.batchItemFailures.length !== 0) throw new Error('the handler reported failures: ' + JSON.stringify(response));
  const { Record } = await new SageMakerFeatureStoreRuntimeClient(stack.clientConfig).send(new GetRecordCommand({ FeatureGroupName: cardActivity.name, RecordIdentifierValueAsString: 'c1' }));
  if (Record?.find((f) => f.FeatureName === 'amount')?.ValueAsString !== '12.5') throw new Error('the record is not online: ' + JSON.stringify(Record));
  const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
  const letter = JSON.parse(Messages?.[0]?.Body ?? '{}');
  if (letter.error?.name !== 'SourceValidationError') throw new Error('the dead letter does not name its error class: ' + JSON.stringify(letter.error));
  sqs.destroy();
  await stack.close();
  console.log('ok');
  `,
    );
    const lambdaRun = run(program, ['lambda-run.mjs']).trim();
    if (lambdaRun.split('\n').pop() !== 'ok') fail(`the bundled Lambda run did not finish: ${lambdaRun}`);

    step(`${version}: CommonJS: require the package; a failing training set and backfill throw SkewlessError, which the ESM build's isSkewlessError knows`);
    writeFileSync(
      join(app, 'cjs-check.cjs'),
      `const { createFeatureStore, trainingSet, backfill, SkewlessError, defineFeatureGroup } = require('skewless');
  const { localStores } = require('skewless/local');
  const z = require('zod/mini');
  (async () => {
    const group = defineFeatureGroup({ name: 'g', recordIdentifier: 'id', eventTime: 't', source: z.object({ id: z.string() }), features: z.object({ id: z.string(), t: z.date() }), transform: (e) => ({ id: e.id, t: new Date(0) }) });
    const store = createFeatureStore(localStores({ memory: true }));
    const training = await trainingSet(store, { spine: [{ id: 'a' }], entityKey: 'id', timestamp: 'label_time', features: [group.select('id')] }).catch((e) => e);
    const filled = await backfill(store, group, { from: { nonsense: true } }).catch((e) => e);
    await store.close();
    // The ESM build loaded beside it is a second copy: its isSkewlessError knows these errors too.
    const esm = await import('skewless');
    for (const [what, error] of [['trainingSet', training], ['backfill', filled]]) {
      if (!(error instanceof SkewlessError)) throw new Error(what + ' did not throw a SkewlessError from the CommonJS build: ' + error);
      if (!esm.isSkewlessError(error) || error instanceof esm.SkewlessError) throw new Error(what + ': isSkewlessError of the ESM build does not know the CommonJS error');
    }
    console.log('ok');
  })().catch((e) => { console.error(e); process.exit(1); });
  `,
    );
    const cjsRun = run(program, ['cjs-check.cjs']).trim();
    if (cjsRun.split('\n').pop() !== 'ok') fail(`the CommonJS check did not finish: ${cjsRun}`);

    step(`${version}: npx skewless demo from the installed package`);
    const demo = run('npx', ['skewless', 'demo', '--json'], { env: { ...process.env, PATH: `${join(program, '..')}:${process.env.PATH}`, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' } });
    const summary = JSON.parse(demo.trim().split('\n').pop());
    if (summary.audit.consistencyRate !== 1 || summary.trainingSet.matchRate !== 1) fail(`the demo's figures are off: ${demo}`);

    step(`${version}: npx skewless local from the installed package`);
    await new Promise((done, reject) => {
      // Its own process group, so Ctrl-C (SIGINT to the group) reaches npx and the CLI under it.
      const child = spawn('npx', ['skewless', 'local', '--memory', '--port', '0'], { cwd: app, detached: true, env: { ...process.env, PATH: `${join(program, '..')}:${process.env.PATH}` } });
      const stop = () => process.kill(-child.pid, 'SIGINT');
      let out = '';
      let asked = false;
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`skewless local printed no address in 60 s: ${out}`));
      }, 60_000);
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const address = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
        // The banner's later lines arrive as further chunks: ask once, or a second request races the stop.
        if (!address || asked) return;
        asked = true;
        clearTimeout(timer);
        fetch(`${address}/FeatureGroup/none?RecordIdentifierValueAsString=x`)
          .then((res) => (res.status >= 400 ? undefined : reject(new Error(`unexpected answer ${res.status}`))), reject)
          .finally(stop);
      });
      child.on('exit', () => done());
    });
  }

  step(`passed: ${files.length} files packed; installed, type-checked, bundled, run from ESM and CommonJS, demo and local stack from the installed package`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
