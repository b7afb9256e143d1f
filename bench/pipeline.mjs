// Full pipeline (base64 JSON -> validate -> transform -> validate -> encode) against a bare
// JSON.parse(Buffer.from(data, 'base64')) over the same records, interleaved in one process.
import { cardEvents, cardTransactions } from './groups.mjs';

const RECORDS = 200_000;
const ROUNDS = 7;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export function benchPipeline() {
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
  const bareRate = Math.round(median(rates.bare));
  const pipelineRate = Math.round(median(rates.pipeline));
  return {
    records: RECORDS,
    features: cardTransactions.featureNames.length,
    bareDecodeRecordsPerSecond: bareRate,
    pipelineRecordsPerSecond: pipelineRate,
    ratio: Number((pipelineRate / bareRate).toFixed(3)),
    goal: 'ratio >= 0.5',
    met: pipelineRate / bareRate >= 0.5,
  };
}
