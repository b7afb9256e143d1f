import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAuditCommand, runLineageCommand } from '../src/cli/audit.js';
import { ConfigurationError, createFeatureStore } from '../src/index.js';
import { cardActivity, everyType, validCardEvent } from './fixtures/groups.js';
import { localStores } from '../src/local/index.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-audit-cli-'));
const definitions = join(import.meta.dirname, 'fixtures', 'groups.ts');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chromium = '/usr/bin/chromium';
const haveChromium = existsSync(chromium);
if (!haveChromium && process.env['SKEWLESS_REQUIRE_CHROMIUM']) throw new Error(`${chromium} is missing: CI installs Debian's chromium package for the HTML report test`);

beforeAll(async () => {
  const store = createFeatureStore(localStores({ dir }));
  const recent = Date.now() - 3_600_000;
  await store.ingest(
    cardActivity,
    Array.from({ length: 300 }, (_, i) => ({ ...validCardEvent, card_id: `card-${i % 60}`, amount_cents: i * 7, ts: new Date(recent + i * 1000).toISOString() })),
  );
  // One online value changed by hand, so the report has something to explain.
  const { online } = await store.backends();
  const current = await store.get(cardActivity, 'card-7');
  await online.delete(cardActivity, 'card-7', new Date((current?.event_time as Date).getTime() + 1).toISOString(), 'HardDelete');
  await online.put(cardActivity, [cardActivity.codec.toRecord({ ...(current as NonNullable<typeof current>), amount: 99.99 })]);
  await store.close();
});

const at = () => new Date(Date.now() + 3_600_000);

describe('skewless audit', () => {
  it('prints a table with the consistency, a row per feature and the causes', async () => {
    const out: string[] = [];
    const code = await runAuditCommand(
      { definitions, group: 'card-activity', sample: undefined, seed: undefined, at: at(), availabilityDelay: undefined, tolerance: undefined, dir, json: false, html: undefined },
      (line) => out.push(line),
      () => {},
    );
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('consistency: 98.33% (59 of 60 identifiers agree on every feature)');
    expect(text).toMatch(/amount\s+98\.33%\s+1\s+0\s+0/);
    expect(text).toMatch(/unexplained\s+1/);
    expect(text).toContain('card-7: unexplained (amount)');
  });

  it('prints JSON for machines', async () => {
    const out: string[] = [];
    await runAuditCommand({ definitions, group: 'card-activity', sample: 10, seed: 2, at: at(), availabilityDelay: '15m', tolerance: 0.5, dir, json: true, html: undefined }, (line) => out.push(line), () => {});
    expect(JSON.parse(out[0] as string)).toMatchObject({ group: 'card-activity', sampled: 10 });
  });

  it('prints JSON for a group with bigint identifiers and features, their values as decimal text', async () => {
    const bigDir = mkdtempSync(join(dir, 'bigint-'));
    const store = createFeatureStore(localStores({ dir: bigDir }));
    const recent = Date.now() - 3_600_000;
    const base = { text: 't', level: 'low', count: 1, ratio: 0.5, flag: true, seen: new Date(recent), score: null, tags: ['a'], weights: [1] };
    await store.ingest(everyType, [0n, 1n].map((i) => ({ ...base, id: 9_007_199_254_740_993n + i, at: new Date(recent + Number(i) * 1000), big: 2n ** 62n + i })));
    // One online value changed by hand, so the report has an example with its values.
    const { online } = await store.backends();
    const current = await store.get(everyType, 9_007_199_254_740_993n);
    await online.delete(everyType, '9007199254740993', new Date((current?.at as Date).getTime() + 1).toISOString(), 'HardDelete');
    await online.put(everyType, [everyType.codec.toRecord({ ...(current as NonNullable<typeof current>), big: -5n })]);
    await store.close();
    const out: string[] = [];
    const code = await runAuditCommand({ definitions, group: 'every_type', sample: undefined, seed: undefined, at: at(), availabilityDelay: undefined, tolerance: undefined, dir: bigDir, json: true, html: undefined }, (line) => out.push(line), () => {});
    expect(code).toBe(0);
    const report = JSON.parse(out[0] as string) as { sampled: number; examples: { id: string; features: string[]; online: Record<string, unknown>; offline: Record<string, unknown> }[] };
    expect(report.sampled).toBe(2);
    expect(report.examples).toHaveLength(1);
    expect(report.examples[0]).toMatchObject({ id: '9007199254740993', features: ['big'], online: { id: '9007199254740993', big: '-5' }, offline: { id: '9007199254740993', big: '4611686018427387904' } });
  });

  it('lists the fingerprints online and offline', async () => {
    const out: string[] = [];
    await runLineageCommand({ definitions, group: 'card-activity', sample: undefined, dir, json: false }, (line) => out.push(line));
    expect(out.join('\n')).toContain(`${cardActivity.fingerprint} (current)`);
    expect(out.join('\n')).toMatch(/offline \(every row but delete markers\):[\s\S]*\s300\s/);
  });

  it('refuses an --html that is a folder before the audit runs, and makes a missing folder for the page', async () => {
    const folder = join(dir, 'pages');
    mkdirSync(folder, { recursive: true });
    const run = (html: string) => runAuditCommand({ definitions, group: 'card-activity', sample: 5, seed: undefined, at: at(), availabilityDelay: undefined, tolerance: undefined, dir, json: true, html }, () => {}, () => {});
    const error = await run(folder).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(`--html: ${folder} is a folder; give the file to write in it`);
    expect(await run(join(folder, 'new', 'audit.html'))).toBe(0);
    expect(readFileSync(join(folder, 'new', 'audit.html'), 'utf8')).toMatch(/^<!doctype html>/);
  });

  it.runIf(haveChromium)('writes an HTML page that shows the figures in headless Chromium', async () => {
    const html = join(dir, 'audit.html');
    await runAuditCommand({ definitions, group: 'card-activity', sample: undefined, seed: undefined, at: at(), availabilityDelay: undefined, tolerance: undefined, dir, json: true, html }, () => {}, () => {});
    expect(readFileSync(html, 'utf8')).not.toMatch(/<script|https?:\/\//);
    const { chromium: launcher } = await import('playwright-core');
    const browser = await launcher.launch({
      executablePath: chromium,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(html).href);
      expect(await page.locator('#consistency').innerText()).toContain('Consistency: 98.33%');
      expect(await page.locator('figure[data-feature="amount"] figcaption').innerText()).toBe('amount: 98.33% match');
      // The bar of a feature is drawn: its match segment spans 59/60 of the chart.
      const width = await page.locator('figure[data-feature="amount"] rect').first().getAttribute('width');
      expect(Number(width)).toBeCloseTo((59 / 60) * 600, 1);
      expect(await page.locator('#causes').innerText()).toMatch(/unexplained\s+1/);
      const shot = await page.screenshot(process.env['SKEWLESS_AUDIT_SCREENSHOT'] ? { path: process.env['SKEWLESS_AUDIT_SCREENSHOT'], fullPage: true } : {});
      expect(shot.byteLength).toBeGreaterThan(1000);
    } finally {
      await browser.close();
    }
  });
});
