// Reads Stryker's JSON report and records the mutation score per module: reports/mutation/scores.json
// (each module with the date and commit of the run that measured it) and the table between the
// mutation markers in README.md. Usage: `node scripts/mutation-table.mjs [module ...]`. Without
// modules every module of the report gets a new row; with them, only those (a run of a few modules
// may carry other modules' older results from the incremental file). The others keep their rows.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const report = JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8'));
// Mutants that cannot change behaviour, each with one line of why: left out of the score, listed in README.
// A key names a place and a mutator (`file line:column Mutator`), and where several mutants of that
// mutator sit at one place (`>=` and `<=` for a `>`), their replacement too (`... Mutator replacement`).
const equivalent = JSON.parse(readFileSync('reports/mutation/equivalent.json', 'utf8'));
const idOf = (file, m) => `${file} ${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`;
const isEquivalent = (file, m) => idOf(file, m) in equivalent || `${idOf(file, m)} ${m.replacement}` in equivalent;
const DETECTED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
const { default: config } = await import('../stryker.config.mjs');
const configured = config.mutate.map((pattern) => pattern.replace(/:\d+-\d+$/, ''));

const only = process.argv.slice(2);
for (const file of only) if (!(file in report.files)) throw new Error(`${file} is not in reports/mutation/mutation.json`);
const measured = Object.entries(report.files)
  .filter(([file]) => only.length === 0 || only.includes(file))
  .map(([file, { mutants }]) => {
    const counted = mutants.filter((m) => COUNTED.has(m.status) && !isEquivalent(file, m));
    const detected = counted.filter((m) => DETECTED.has(m.status)).length;
    return {
      module: file,
      commit,
      date,
      mutants: counted.length,
      killed: detected,
      survived: counted.filter((m) => m.status === 'Survived').map((m) => `${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`),
      noCoverage: counted.filter((m) => m.status === 'NoCoverage').length,
      score: counted.length === 0 ? 100 : Math.round((detected / counted.length) * 1000) / 10,
    };
  });
// The rows of configured modules this report does not hold, as the run that measured them left them.
const previous = existsSync('reports/mutation/scores.json') ? JSON.parse(readFileSync('reports/mutation/scores.json', 'utf8')) : { modules: [] };
const kept = previous.modules.filter((m) => configured.includes(m.module) && !measured.some((row) => row.module === m.module));
const modules = [...measured, ...kept].sort((a, b) => a.module.localeCompare(b.module));
writeFileSync('reports/mutation/scores.json', `${JSON.stringify({ modules }, null, 2)}\n`);

// A kept row whose module changed since its run is marked: its figure is of older code.
const changedSince = (m) => m.commit !== commit && execFileSync('git', ['diff', '--name-only', m.commit, 'HEAD', '--', m.module], { encoding: 'utf8' }).trim() !== '';
const rows = modules.map(
  (m) => `| \`${m.module}\` | ${m.mutants} | ${m.killed} | ${m.survived.length} | ${m.noCoverage} | ${m.score}% | ${m.score >= 85 ? 'yes' : 'no'} | ${m.commit}, ${m.date}${changedSince(m) ? ' (code changed since)' : ''} |`,
);
// Modules the config mutates that no run has reached yet: listed, so the table never reads as complete when it is not.
const notRun = configured.filter((file) => !modules.some((m) => m.module === file));
const table = [
  'Mutation score per module (Stryker; goal 85%; each row from the run of the commit it names):',
  '',
  '| Module | Mutants | Detected | Survived | No coverage | Score | Goal met | Measured at |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...rows,
  ...notRun.map((file) => `| \`${file}\` | not run yet | | | | | | |`),
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
