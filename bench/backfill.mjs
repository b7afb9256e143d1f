// Backfill: NDJSON history of the 12-feature group -> local offline Parquet, on 1 and 2 worker threads.
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { cardEvent } from './groups.mjs';

const RECORDS = Number(process.env.BACKFILL_RECORDS ?? 10_000_000);
const data = fileURLToPath(new URL('./.data/backfill/', import.meta.url));

/** The history file, written once per size and reused (about 2.3 GB at 10 million records). */
async function history() {
  mkdirSync(data, { recursive: true });
  const file = `${data}history-${RECORDS}.ndjson`;
  const marker = `${file}.done`;
  if (existsSync(marker) && existsSync(file)) return file;
  const out = createWriteStream(file);
  let buffer = '';
  for (let i = 0; i < RECORDS; i++) {
    buffer += `${JSON.stringify(cardEvent(i))}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
  writeFileSync(marker, '');
  return file;
}

/** One run in a fresh process, so its peak RSS (worker threads included) is its own. */
function run(file, workers) {
  const dir = `${data}run-${workers}`;
  rmSync(dir, { recursive: true, force: true });
  const script = `
    import { planBackfill, ndjsonFile } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    import { backfillOnWorkers } from ${JSON.stringify(new URL('../dist/local.js', import.meta.url).href)};
    import { cardTransactions } from ${JSON.stringify(new URL('./groups.mjs', import.meta.url).href)};
    const shards = await planBackfill(cardTransactions, { from: ndjsonFile(${JSON.stringify(file)}), shards: ${workers * 4} });
    const started = performance.now();
    const summary = await backfillOnWorkers({ definitions: ${JSON.stringify(fileURLToPath(new URL('./groups.mjs', import.meta.url)))}, group: cardTransactions.name, shards, workers: ${workers}, dir: ${JSON.stringify(dir)} });
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({ records: summary.written, seconds, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));`;
  writeFileSync(`${data}run.mjs`, script);
  const output = execFileSync(process.execPath, [`${data}run.mjs`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const result = JSON.parse(output.trim().split('\n').pop());
  rmSync(dir, { recursive: true, force: true });
  if (result.records !== RECORDS) throw new Error(`the backfill wrote ${result.records} of ${RECORDS} records`);
  return { recordsPerSecond: Math.round(result.records / result.seconds), seconds: Number(result.seconds.toFixed(1)), peakRssMb: result.peakRssMb };
}

export async function benchBackfill() {
  const file = await history();
  const one = run(file, 1);
  const two = run(file, 2);
  const peak = Math.max(one.peakRssMb, two.peakRssMb);
  return {
    records: RECORDS,
    fileMb: Math.round(statSync(file).size / 1024 / 1024),
    oneWorker: one,
    twoWorkers: two,
    throughputGoal: '>= 100,000 records/s with 2 workers',
    throughputMet: two.recordsPerSecond >= 100_000,
    memoryGoal: 'peak RSS < 500 MB',
    memoryMet: peak < 500,
  };
}
