import { describe, expect, it } from 'vitest';
import { type AuditReport, formatAuditReport, formatLineageReport, type LineageReport, renderAuditHtml } from '../src/index.js';

// The audit's and lineage's reports as the terminal and the HTML page show them, for fixed reports:
// widths, alignment, rounding and which parts appear.

const noCauses = { fingerprint: 0, 'offline-lag': 0, 'ttl-expired': 0, 'delete-pending': 0, 'late-events': 0, unexplained: 0 };

const report: AuditReport = {
  group: 'cards',
  fingerprint: '0123456789abcdef',
  at: new Date('2024-05-02T00:00:00Z'),
  visibleUntil: new Date('2024-05-01T23:45:00Z'),
  sampled: 1234,
  unknown: [],
  otherDefinitions: {},
  consistent: 1000,
  consistencyRate: 1000 / 1234,
  features: {
    event_time: { match: 1234, mismatch: 0, missingOnline: 0, missingOffline: 0, matchRate: 1, mismatchRate: 0 },
    amount: {
      match: 1000,
      mismatch: 200,
      missingOnline: 30,
      missingOffline: 4,
      matchRate: 1000 / 1234,
      mismatchRate: 200 / 1234,
      differences: { count: 1200, min: -2, p50: 0.001, p95: 0.00012, max: 2_500_000, meanAbs: 1 },
    },
    note: { match: 0, mismatch: 1234, missingOnline: 0, missingOffline: 0, matchRate: 0, mismatchRate: 1, differences: { count: 3, min: 0, p50: -0.0005, p95: 1.23456789, max: -1e6, meanAbs: 0 } },
  },
  causes: { ...noCauses, 'offline-lag': 200, unexplained: 34 },
  examples: ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, cause: 'unexplained' as const, features: ['amount', 'note'], online: undefined, offline: undefined })),
  durationMs: 5,
};

describe('formatAuditReport', () => {
  it('prints the rate, a right-aligned row per feature with differences in short form, the causes found and five examples', () => {
    expect(formatAuditReport(report).split('\n')).toEqual([
      'audit of "cards" (fingerprint 0123456789abcdef) at 2024-05-02T00:00:00.000Z',
      'offline rows written up to 2024-05-01T23:45:00.000Z count as visible',
      'consistency: 81.04% (1,000 of 1,234 identifiers agree on every feature)',
      '',
      'feature      match  mismatch  missing online  missing offline   difference min / p50 / p95 / max',
      '----------  ------  --------  --------------  ---------------  ---------------------------------',
      'event_time    100%         0               0                0',
      'amount      81.04%       200              30                4     -2 / 0.001 / 1.20e-4 / 2.50e+6',
      'note            0%     1,234               0                0  0 / -5.00e-4 / 1.23457 / -1.00e+6',
      '',
      'cause        identifiers',
      '-----------  -----------',
      'offline-lag          200',
      'unexplained           34',
      '',
      'examples:',
      '  a: unexplained (amount, note)',
      '  b: unexplained (amount, note)',
      '  c: unexplained (amount, note)',
      '  d: unexplained (amount, note)',
      '  e: unexplained (amount, note)',
    ]);
  });

  it('quotes an example identifier holding control characters, so it cannot forge a line or a terminal escape', () => {
    const forged = 'c1\nconsistency: 100% (all good)\u001b[2K';
    const lines = formatAuditReport({ ...report, examples: [{ ...(report.examples[0] as AuditReport['examples'][number]), id: forged }] }).split('\n');
    expect(lines.slice(-2)).toEqual(['examples:', '  "c1\\nconsistency: 100% (all good)\\u001b[2K": unexplained (amount, note)']);
  });

  it('leaves out causes and examples when every identifier agrees', () => {
    const agreeing: AuditReport = { ...report, consistent: 2, sampled: 2, consistencyRate: 1, features: { n: { match: 2, mismatch: 0, missingOnline: 0, missingOffline: 0, matchRate: 1, mismatchRate: 0 } }, causes: noCauses, examples: [] };
    expect(formatAuditReport(agreeing).split('\n').slice(2)).toEqual([
      'consistency: 100% (2 of 2 identifiers agree on every feature)',
      '',
      'feature  match  mismatch  missing online  missing offline  difference min / p50 / p95 / max',
      '-------  -----  --------  --------------  ---------------  --------------------------------',
      'n         100%         0               0                0',
    ]);
  });
});

describe('identifiers of the sample neither store has', () => {
  it('are named under the rate, the first ten, in the terminal and the page', () => {
    const one: AuditReport = { ...report, unknown: ['card-typo'] };
    expect(formatAuditReport(one).split('\n')[3]).toBe('not in either store, left out: 1 identifier ("card-typo")');
    const many: AuditReport = { ...report, unknown: Array.from({ length: 12 }, (_, i) => `c${i}`) };
    expect(formatAuditReport(many).split('\n')[3]).toBe('not in either store, left out: 12 identifiers ("c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", ...)');
    expect(renderAuditHtml({ ...report, unknown: ['<b>'] })).toContain('<p id="unknown">not in either store, left out: 1 identifier (&#34;&#60;b&#62;&#34;)</p>');
    const ten: AuditReport = { ...report, unknown: Array.from({ length: 10 }, (_, i) => `c${i}`) };
    expect(formatAuditReport(ten).split('\n')[3]).toBe('not in either store, left out: 10 identifiers ("c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9")');
    // Without any, the line is not there: the consistency paragraph is followed by the legend.
    expect(renderAuditHtml(report)).toContain('agree on every feature)</p>\n<div class="legend">');
    expect(formatAuditReport(report).split('\n')[3]).toBe('');
  });
});

describe('records another definition of the group wrote', () => {
  it('are counted by fingerprint under the rate, in the terminal and the page; none, no line', () => {
    const older: AuditReport = { ...report, unknown: ['card-typo'], otherDefinitions: { '96818f8e9a7e158e': 1000, '00000000000000aa': 2 } };
    const line = 'written by other definitions: 1,002 of 1,234 identifiers (96818f8e9a7e158e: 1,000, 00000000000000aa: 2); their values follow that definition (a feature added since is missing on both sides, and agrees)';
    expect(formatAuditReport(older).split('\n').slice(3, 6)).toEqual(['not in either store, left out: 1 identifier ("card-typo")', line, '']);
    expect(renderAuditHtml(older)).toContain(`</p>\n<p id="other-definitions">${line}</p>\n<div class="legend">`);
    expect(renderAuditHtml(report)).not.toContain('other-definitions');
  });
});

describe('formatLineageReport', () => {
  it('lists the fingerprints offline with their rows, event and write times, and online with the identifiers read', () => {
    const day = (d: string) => new Date(`2024-${d}T00:00:00Z`);
    const lineage: LineageReport = {
      group: 'cards',
      fingerprint: 'new0000000000000',
      offline: [
        { fingerprint: 'old0000000000000', current: false, records: 1500, firstEventTime: day('01-01'), lastEventTime: day('02-01'), firstWriteTime: day('03-01'), lastWriteTime: day('03-02') },
        // Rows of another tool, whose event times did not parse.
        { fingerprint: '(none)', current: false, records: 3, firstEventTime: undefined, lastEventTime: undefined, firstWriteTime: day('03-03'), lastWriteTime: day('03-04') },
        { fingerprint: 'new0000000000000', current: true, records: 2, firstEventTime: day('02-02'), lastEventTime: day('02-03'), firstWriteTime: day('03-05'), lastWriteTime: day('03-05') },
      ],
      online: [
        { fingerprint: '(none)', current: false, records: 7, firstEventTime: undefined, lastEventTime: undefined },
        { fingerprint: 'new0000000000000', current: true, records: 12, firstEventTime: day('02-02'), lastEventTime: day('02-03') },
      ],
      onlineSampled: 1000,
    };
    expect(formatLineageReport(lineage).split('\n')).toEqual([
      'lineage of "cards" (current fingerprint new0000000000000)',
      '',
      'offline (every row but delete markers):',
      'fingerprint                  rows                                           event times                                               written',
      '--------------------------  -----  ----------------------------------------------------  ----------------------------------------------------',
      'old0000000000000            1,500  2024-01-01T00:00:00.000Z .. 2024-02-01T00:00:00.000Z  2024-03-01T00:00:00.000Z .. 2024-03-02T00:00:00.000Z',
      '(none)                          3                                                        2024-03-03T00:00:00.000Z .. 2024-03-04T00:00:00.000Z',
      'new0000000000000 (current)      2  2024-02-02T00:00:00.000Z .. 2024-02-03T00:00:00.000Z  2024-03-05T00:00:00.000Z .. 2024-03-05T00:00:00.000Z',
      '',
      'online (1,000 identifiers read):',
      'fingerprint                 records                                           event times',
      '--------------------------  -------  ----------------------------------------------------',
      '(none)                            7',
      'new0000000000000 (current)       12  2024-02-02T00:00:00.000Z .. 2024-02-03T00:00:00.000Z',
    ]);
  });
});

describe('renderAuditHtml', () => {
  // Built in each test, not while the file is collected: the mutation run then tries every mutant of
  // the renderer inside the tests that read the page.
  const page = () => renderAuditHtml({ ...report, group: 'cards <&> "quoted"', examples: [{ ...(report.examples[0] as AuditReport['examples'][number]), id: "o'brien" }] });

  it('is one self-contained page: no scripts, no external files, the names escaped', () => {
    const html = page();
    expect(html.startsWith('<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>skewless audit: cards &#60;&#38;&#62; &#34;quoted&#34;</title>')).toBe(true);
    expect(html).not.toMatch(/<script|src=|href=/);
    expect(html).toContain('<h1>Audit of cards &#60;&#38;&#62; &#34;quoted&#34;</h1>');
    expect(html).toContain('<p>Fingerprint <code>0123456789abcdef</code>, at 2024-05-02T00:00:00.000Z; offline rows written up to 2024-05-01T23:45:00.000Z count as visible.</p>');
    expect(html).toContain('<p id="consistency"><strong>Consistency: 81.04%</strong> (1,000 of 1,234 identifiers agree on every feature)</p>');
    expect(html.endsWith('</body></html>\n')).toBe(true);
  });

  it('has a bar per feature whose segments are its identifiers by outcome, of 600 pixels in all', () => {
    const html = page();
    // amount: 1000 match, 200 mismatch, 30 missing online, 4 missing offline of 1234.
    const px = (n: number) => ((n / 1234) * 600).toFixed(2);
    expect(html).toContain(
      '<figure data-feature="amount"><figcaption>amount: 81.04% match</figcaption><svg role="img" aria-label="amount: 81.04% match" width="600" height="24" viewBox="0 0 600 24">' +
        `<rect x="0.00" y="0" width="${px(1000)}" height="24" fill="#2e7d32"><title>match: 1000</title></rect>` +
        `<rect x="${px(1000)}" y="0" width="${px(200)}" height="24" fill="#c62828"><title>mismatch: 200</title></rect>` +
        `<rect x="${px(1200)}" y="0" width="${px(30)}" height="24" fill="#ef6c00"><title>missing online: 30</title></rect>` +
        `<rect x="${px(1230)}" y="0" width="${px(4)}" height="24" fill="#757575"><title>missing offline: 4</title></rect></svg></figure>`,
    );
    // One figure per line.
    expect(html).toContain('</svg></figure>\n<figure data-feature="note">');
    // A segment without identifiers draws nothing.
    expect(html).toContain('<figure data-feature="event_time"><figcaption>event_time: 100% match</figcaption><svg role="img" aria-label="event_time: 100% match" width="600" height="24" viewBox="0 0 600 24"><rect x="0.00" y="0" width="600.00" height="24" fill="#2e7d32"><title>match: 1234</title></rect></svg></figure>');
    expect(html).toContain('<div class="legend"><span><i style="background:#2e7d32"></i>match</span><span><i style="background:#c62828"></i>mismatch</span><span><i style="background:#ef6c00"></i>missing online</span><span><i style="background:#757575"></i>missing offline</span></div>');
  });

  it('has tables of the features, of every cause (found or not) and of the examples', () => {
    const html = page();
    expect(html).toContain('<tr><td>amount</td><td>81.04%</td><td>200</td><td>30</td><td>4</td><td>-2 / 0.001 / 1.20e-4 / 2.50e+6</td></tr>');
    expect(html).toContain('<tr><td>event_time</td><td>100%</td><td>0</td><td>0</td><td>0</td><td></td></tr>');
    expect(html).toContain('<table id="causes"><tr><th>cause</th><th>identifiers</th></tr>\n<tr><td>fingerprint</td><td>0</td></tr>\n<tr><td>offline-lag</td><td>200</td></tr>\n');
    expect(html).toContain('<h2>Examples</h2><table id="examples"><tr><th>identifier</th><th>cause</th><th>features</th></tr>\n<tr><td>o&#39;brien</td><td>unexplained</td><td>amount, note</td></tr>\n</table>');
    expect(renderAuditHtml({ ...report, examples: [] })).toMatch(/<tr><td>unexplained<\/td><td>34<\/td><\/tr>\n<\/table>\n\n<\/body><\/html>\n$/);
    // Rows one per line.
    expect(html).toContain('<tr><td>amount</td><td>81.04%</td><td>200</td><td>30</td><td>4</td><td>-2 / 0.001 / 1.20e-4 / 2.50e+6</td></tr>\n<tr><td>');
    expect(renderAuditHtml(report)).toContain('<tr><td>a</td><td>unexplained</td><td>amount, note</td></tr>\n<tr><td>b</td>');
  });

  it('writes a difference of zero as 0, others to six digits below a million, and the least first: online below offline shows', () => {
    const zero = { match: 1, mismatch: 1, missingOnline: 0, missingOffline: 0, matchRate: 0.5, mismatchRate: 0.5, differences: { count: 1, min: -7.11, p50: 0, p95: 0.5, max: 123456.789, meanAbs: 0.25 } };
    expect(renderAuditHtml({ ...report, features: { z: zero } })).toContain('<tr><td>z</td><td>50.00%</td><td>1</td><td>0</td><td>0</td><td>-7.11 / 0 / 0.5 / 123457</td></tr>');
    // Every difference below zero: the table said 0 / 0 / 0 for the two mismatches, as max and the quantiles are 0.
    const below = { ...zero, differences: { count: 10, min: -7.11, p50: 0, p95: 0, max: 0, meanAbs: 0.9 } };
    expect(formatAuditReport({ ...report, features: { amount: below } }).split('\n')[6]).toBe('amount   50.00%         1               0                0                 -7.11 / 0 / 0 / 0');
  });

  it('reads "nothing sampled" overall and per feature and draws an empty bar for an audit that sampled nothing', () => {
    const nothing: AuditReport = { ...report, sampled: 0, consistent: 0, consistencyRate: undefined, features: { n: { match: 0, mismatch: 0, missingOnline: 0, missingOffline: 0, matchRate: undefined, mismatchRate: undefined } }, causes: noCauses, examples: [] };
    const text = formatAuditReport(nothing).split('\n');
    expect(text[2]).toBe('consistency: nothing sampled (0 of 0 identifiers agree on every feature)');
    expect(text[6]).toBe('n        nothing sampled         0               0                0');
    const empty = renderAuditHtml(nothing);
    expect(empty).toContain('<strong>Consistency: nothing sampled</strong> (0 of 0 identifiers agree on every feature)');
    expect(empty).toContain('<figcaption>n: nothing sampled</figcaption><svg role="img" aria-label="n: nothing sampled" width="600" height="24" viewBox="0 0 600 24"></svg>');
    expect(empty).toContain('<tr><td>n</td><td>nothing sampled</td><td>0</td><td>0</td><td>0</td><td></td></tr>');
  });
});
