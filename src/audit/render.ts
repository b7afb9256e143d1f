import type { AuditReport, FeatureAudit } from './audit.js';
import { AUDIT_CAUSES } from './causes.js';
import type { LineageEntry, LineageReport } from './lineage.js';

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 2)}%`;
}
const number = (n: number) => n.toLocaleString('en-US');
/** An identifier as stored, or quoted when it holds control characters (a line break, a terminal escape) that would forge lines. */
const printable = (id: string) => (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(id) ? JSON.stringify(id) : id);
/** The sample's identifiers that neither store has: named (the first ten), as they were not audited. */
const unknownText = (ids: readonly string[]) =>
  `not in either store, left out: ${number(ids.length)} identifier${ids.length === 1 ? '' : 's'} (${ids.slice(0, 10).map((id) => JSON.stringify(id)).join(', ')}${ids.length > 10 ? ', ...' : ''})`;

/** The sampled records another definition of the group wrote, by its fingerprint: none, no line. */
function otherDefinitionsText(report: AuditReport): string[] {
  const found = Object.entries(report.otherDefinitions);
  if (found.length === 0) return [];
  const count = found.reduce((n, [, c]) => n + c, 0);
  return [`written by other definitions: ${number(count)} of ${number(report.sampled)} identifiers (${found.map(([f, c]) => `${f}: ${number(c)}`).join(', ')}); their values follow that definition (a feature added since is missing on both sides, and agrees)`];
}

/** A rate, or what stands for it when nothing was sampled (never 0% or 100% of nothing). */
const rateText = (rate: number | undefined) => (rate === undefined ? 'nothing sampled' : percent(rate));

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  // No trailing spaces after an empty last cell.
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** A number feature's online - offline, both ways: the least first, so online below offline shows too. */
function differenceText(d: FeatureAudit['differences']): string {
  return d ? [d.min, d.p50, d.p95, d.max].map(shortNumber).join(' / ') : '';
}

function shortNumber(n: number): string {
  return Math.abs(n) >= 1e6 || (n !== 0 && Math.abs(n) < 1e-3) ? n.toExponential(2) : String(Number(n.toPrecision(6)));
}

/**
 * The audit report as the terminal shows it: the overall rate, a row per feature and the causes.
 *
 * ### Example
 * ```ts
 * console.log(formatAuditReport(await audit(store, cardActivity)));
 * ```
 */
export function formatAuditReport(report: AuditReport): string {
  const lines = [
    `audit of "${report.group}" (fingerprint ${report.fingerprint}) at ${report.at.toISOString()}`,
    `offline rows written up to ${report.visibleUntil.toISOString()} count as visible`,
    `consistency: ${rateText(report.consistencyRate)} (${number(report.consistent)} of ${number(report.sampled)} identifiers agree on every feature)`,
    ...(report.unknown.length > 0 ? [unknownText(report.unknown)] : []),
    ...otherDefinitionsText(report),
    '',
    ...table(
      ['feature', 'match', 'mismatch', 'missing online', 'missing offline', 'difference min / p50 / p95 / max'],
      Object.entries(report.features).map(([name, f]) => [
        name,
        rateText(f.matchRate),
        number(f.mismatch),
        number(f.missingOnline),
        number(f.missingOffline),
        differenceText(f.differences),
      ]),
    ),
  ];
  const causes = AUDIT_CAUSES.filter((c) => report.causes[c] > 0);
  if (causes.length > 0) {
    lines.push('', ...table(['cause', 'identifiers'], causes.map((c) => [c, number(report.causes[c])])));
    const shown = report.examples.slice(0, 5);
    lines.push('', 'examples:');
    for (const e of shown) lines.push(`  ${printable(e.id)}: ${e.cause} (${e.features.join(', ')})`);
  }
  return lines.join('\n');
}

/** A time range as `first .. last`; empty when the times are unknown (not parsed). */
function range(first: Date | undefined, last: Date | undefined): string {
  return first && last ? `${first.toISOString()} .. ${last.toISOString()}` : '';
}

/** A row per fingerprint: records and event times, and when the rows were written (offline only). */
function lineageRows(entries: readonly LineageEntry[], written: boolean): string[][] {
  return entries.map((e) => [`${e.fingerprint}${e.current ? ' (current)' : ''}`, number(e.records), range(e.firstEventTime, e.lastEventTime), ...(written ? [range(e.firstWriteTime, e.lastWriteTime)] : [])]);
}

/**
 * The lineage report as the terminal shows it: fingerprints offline and online, with counts and times.
 *
 * ### Example
 * ```ts
 * console.log(formatLineageReport(await lineage(store, cardActivity)));
 * ```
 */
export function formatLineageReport(report: LineageReport): string {
  return [
    `lineage of "${report.group}" (current fingerprint ${report.fingerprint})`,
    '',
    'offline (every row but delete markers):',
    ...table(['fingerprint', 'rows', 'event times', 'written'], lineageRows(report.offline, true)),
    '',
    `online (${number(report.onlineSampled)} identifiers read):`,
    ...table(['fingerprint', 'records', 'event times'], lineageRows(report.online, false)),
  ].join('\n');
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const SEGMENTS = [
  ['match', '#2e7d32', 'match'],
  ['mismatch', '#c62828', 'mismatch'],
  ['missingOnline', '#ef6c00', 'missing online'],
  ['missingOffline', '#757575', 'missing offline'],
] as const;

/** One stacked bar: the feature's identifiers by outcome. */
function featureChart(name: string, f: AuditReport['features'][string], total: number): string {
  const width = 600;
  let x = 0;
  const bars = SEGMENTS.map(([key, color, label]) => {
    const count = f[key];
    const w = total === 0 ? 0 : (count / total) * width;
    const rect = w > 0 ? `<rect x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="24" fill="${color}"><title>${label}: ${count}</title></rect>` : '';
    x += w;
    return rect;
  }).join('');
  const label = `${escapeHtml(name)}: ${f.matchRate === undefined ? 'nothing sampled' : `${percent(f.matchRate)} match`}`;
  return `<figure data-feature="${escapeHtml(name)}"><figcaption>${label}</figcaption><svg role="img" aria-label="${label}" width="${width}" height="24" viewBox="0 0 ${width} 24">${bars}</svg></figure>`;
}

/**
 * The audit report as one self-contained HTML page (no scripts, no external files): the overall
 * rate, a chart and figures per feature, the causes and examples.
 *
 * ### Example
 * ```ts
 * writeFileSync('audit.html', renderAuditHtml(await audit(store, cardActivity)));
 * ```
 */
export function renderAuditHtml(report: AuditReport): string {
  const rows = Object.entries(report.features)
    .map(
      ([name, f]) =>
        `<tr><td>${escapeHtml(name)}</td><td>${rateText(f.matchRate)}</td><td>${number(f.mismatch)}</td><td>${number(f.missingOnline)}</td><td>${number(f.missingOffline)}</td><td>${
          differenceText(f.differences)
        }</td></tr>`,
    )
    .join('\n');
  const causes = AUDIT_CAUSES.map((c) => `<tr><td>${c}</td><td>${number(report.causes[c])}</td></tr>`).join('\n');
  const examples = report.examples
    .map((e) => `<tr><td>${escapeHtml(e.id)}</td><td>${e.cause}</td><td>${escapeHtml(e.features.join(', '))}</td></tr>`)
    .join('\n');
  const charts = Object.entries(report.features)
    .map(([name, f]) => featureChart(name, f, report.sampled))
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skewless audit: ${escapeHtml(report.group)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}
td,th{border-bottom:1px solid #ddd;padding:.25rem .75rem;text-align:right}td:first-child,th:first-child{text-align:left}
figure{margin:.5rem 0}figcaption{font-size:12px;color:#555}.legend span{display:inline-block;margin-right:1rem}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
</style></head><body>
<h1>Audit of ${escapeHtml(report.group)}</h1>
<p>Fingerprint <code>${report.fingerprint}</code>, at ${report.at.toISOString()}; offline rows written up to ${report.visibleUntil.toISOString()} count as visible.</p>
<p id="consistency"><strong>Consistency: ${rateText(report.consistencyRate)}</strong> (${number(report.consistent)} of ${number(report.sampled)} identifiers agree on every feature)</p>${report.unknown.length > 0 ? `\n<p id="unknown">${escapeHtml(unknownText(report.unknown))}</p>` : ''}${otherDefinitionsText(report).map((line) => `\n<p id="other-definitions">${escapeHtml(line)}</p>`).join('')}
<div class="legend">${SEGMENTS.map(([, color, label]) => `<span><i style="background:${color}"></i>${label}</span>`).join('')}</div>
${charts}
<h2>Features</h2>
<table id="features"><tr><th>feature</th><th>match</th><th>mismatch</th><th>missing online</th><th>missing offline</th><th>difference min / p50 / p95 / max</th></tr>
${rows}
</table>
<h2>Causes</h2>
<table id="causes"><tr><th>cause</th><th>identifiers</th></tr>
${causes}
</table>
${examples ? `<h2>Examples</h2><table id="examples"><tr><th>identifier</th><th>cause</th><th>features</th></tr>\n${examples}\n</table>` : ''}
</body></html>
`;
}
