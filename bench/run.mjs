// Runs every benchmark, writes bench/results.json and refreshes the table in README.md.
// Benchmarks are measurements, not tests: goals are reported as met or not, never asserted.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchPipeline } from './pipeline.mjs';

const benches = [
  {
    id: 'pipeline',
    title: 'Pipeline vs bare base64 JSON decode (12-feature group)',
    run: benchPipeline,
    rows: (r) => [
      ['bare `JSON.parse(Buffer.from(data, "base64"))`', `${r.bareDecodeRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['full pipeline (decode, validate, transform, validate, encode)', `${r.pipelineRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['pipeline / bare decode', String(r.ratio), r.goal, r.met ? 'yes' : 'no'],
    ],
  },
];

const only = process.argv.slice(2);
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  results: {},
};
const table = ['| benchmark | measure | figure | goal | met |', '|---|---|---|---|---|'];
for (const bench of benches) {
  if (only.length > 0 && !only.includes(bench.id)) continue;
  process.stdout.write(`running ${bench.id}...\n`);
  const result = await bench.run();
  results.results[bench.id] = result;
  for (const [measure, figure, goal, met] of bench.rows(result)) {
    table.push(`| ${bench.title} | ${measure} | ${figure} | ${goal} | ${met} |`);
  }
}
const tableText = `${table.join('\n')}\n\n_${results.node} on ${results.cores} × ${results.cpu}, ${results.date.slice(0, 10)}; \`npm run bench\` refreshes this table and bench/results.json._`;
process.stdout.write(`\n${tableText}\n`);

if (only.length === 0) {
  writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  const readmeUrl = new URL('../README.md', import.meta.url);
  const readme = readFileSync(readmeUrl, 'utf8');
  const updated = readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${tableText}\n<!-- bench:end -->`);
  writeFileSync(readmeUrl, updated);
}
