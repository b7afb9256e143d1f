// Reads Stryker's JSON report and records the mutation score per module: reports/mutation/scores.json
// (with the date and commit) and the table between the mutation markers in README.md.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const report = JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8'));
// Mutants that cannot change behaviour, each with one line of why: left out of the score, listed in README.
// A key names a place and a mutator (`file line:column Mutator`), and where several mutants of that
// mutator sit at one place (`>=` and `<=` for a `>`), their replacement too (`... Mutator replacement`).
const equivalent = JSON.parse(readFileSync('reports/mutation/equivalent.json', 'utf8'));
const idOf = (file, m) => `${file} ${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`;
const isEquivalent = (file, m) => idOf(file, m) in equivalent || `${idOf(file, m)} ${m.replacement}` in equivalent;
const DETECTED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

const modules = Object.entries(report.files)
  .map(([file, { mutants }]) => {
    const counted = mutants.filter((m) => COUNTED.has(m.status) && !isEquivalent(file, m));
    const detected = counted.filter((m) => DETECTED.has(m.status)).length;
    return {
      module: file,
      mutants: counted.length,
      killed: detected,
      survived: counted.filter((m) => m.status === 'Survived').map((m) => `${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`),
      noCoverage: counted.filter((m) => m.status === 'NoCoverage').length,
      score: counted.length === 0 ? 100 : Math.round((detected / counted.length) * 1000) / 10,
    };
  })
  .sort((a, b) => a.module.localeCompare(b.module));

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
writeFileSync('reports/mutation/scores.json', `${JSON.stringify({ date, commit, modules }, null, 2)}\n`);

const rows = modules.map((m) => `| \`${m.module}\` | ${m.mutants} | ${m.killed} | ${m.survived.length} | ${m.noCoverage} | ${m.score}% | ${m.score >= 85 ? 'yes' : 'no'} |`);
// Modules the config mutates that no run has reached yet: listed, so the table never reads as complete when it is not.
const { default: config } = await import('../stryker.config.mjs');
const notRun = config.mutate.map((pattern) => pattern.replace(/:\d+-\d+$/, '')).filter((file) => !(file in report.files));
const table = [
  `Mutation score per module (Stryker, ${date}, commit ${commit}; goal 85%):`,
  '',
  '| Module | Mutants | Detected | Survived | No coverage | Score | Goal met |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ...rows,
  ...notRun.map((file) => `| \`${file}\` | not run yet | | | | | |`),
  '',
  'Equivalent mutants (left out of the score):',
  '',
  ...Object.entries(equivalent).map(([id, why]) => `- \`${id}\`: ${why}`),
].join('\n');
const readme = readFileSync('README.md', 'utf8');
const start = '<!-- mutation:start -->';
const end = '<!-- mutation:end -->';
if (!readme.includes(start)) throw new Error(`README.md has no ${start} marker`);
writeFileSync('README.md', readme.replace(new RegExp(`${start}[\\s\\S]*?${end}`), `${start}\n${table}\n${end}`));
for (const file of notRun) console.log(`${file}: not run yet`);
for (const m of modules) console.log(`${m.module}: ${m.score}% (${m.killed}/${m.mutants})${m.survived.length ? `, survived: ${m.survived.join(', ')}` : ''}`);
