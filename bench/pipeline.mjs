// Full pipeline (base64 JSON -> validate -> transform -> validate -> encode) against a bare
// JSON.parse(Buffer.from(data, 'base64')) over the same records, interleaved in one process. Twice,
// each in a process of its own: as installed, and with `import 'zod/compile'` first (zod's compiled
// parsers, which a Lambda opts into the same way; README "In your own project").
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RECORDS = 200_000;
const ROUNDS = 7;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function measure() {
  const { cardEvents, cardTransactions } = await import('./groups.mjs');
  const payloads = cardEvents(RECORDS).map((e) => Buffer.from(JSON.stringify(e)).toString('base64'));
  let sink = 0;
  const bare = () => {
    for (const data of payloads) sink += JSON.parse(Buffer.from(data, 'base64')).amount_cents;
  };
  const pipeline = () => {
    for (const data of payloads) {
      const result = cardTransactions.process(JSON.parse(Buffer.from(data, 'base64')));
      if (result.ok) sink += result.encoded.length;
    }
  };
  const rates = { bare: [], pipeline: [] };
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [name, fn] of [['bare', bare], ['pipeline', pipeline]]) {
      const started = process.hrtime.bigint();
      fn();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (round > 0) rates[name].push(RECORDS / seconds); // round 0 warms the JIT
    }
  }
  if (sink === 0) throw new Error('benchmark produced nothing');
  return { bare: Math.round(median(rates.bare)), pipeline: Math.round(median(rates.pipeline)), features: cardTransactions.featureNames.length };
}

if (process.argv[2] === '--measure') {
  if (process.argv[3] === 'compile') await import('zod/compile');
  process.stdout.write(JSON.stringify(await measure()));
}

function run(variant) {
  return JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--measure', variant], { encoding: 'utf8', maxBuffer: 1 << 20 }));
}

export function benchPipeline() {
  const plain = run('plain');
  const compiled = run('compile');
  const ratio = (r) => Number((r.pipeline / r.bare).toFixed(3));
  return {
    records: RECORDS,
    features: plain.features,
    bareDecodeRecordsPerSecond: plain.bare,
    pipelineRecordsPerSecond: plain.pipeline,
    ratio: ratio(plain),
    compiledBareDecodeRecordsPerSecond: compiled.bare,
    compiledPipelineRecordsPerSecond: compiled.pipeline,
    compiledRatio: ratio(compiled),
    goal: 'ratio >= 0.5',
    met: Math.max(ratio(plain), ratio(compiled)) >= 0.5,
  };
}
