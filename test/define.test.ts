import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DefinitionError, defineFeatureGroup, isFeatureGroup, SkewlessError } from '../src/index.js';
import { cardActivity, everyType } from './fixtures/groups.js';

const base = {
  name: 'g',
  recordIdentifier: 'id',
  eventTime: 't',
  source: z.object({ id: z.string() }),
  features: z.object({ id: z.string(), t: z.date(), v: z.number() }),
  transform: (e: { id: string }) => ({ id: e.id, t: new Date(0), v: 1 }),
} as const;

function definitionError(config: unknown): DefinitionError {
  try {
    defineFeatureGroup(config as Parameters<typeof defineFeatureGroup>[0]);
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    expect(error).toBeInstanceOf(SkewlessError);
    return error as DefinitionError;
  }
  throw new Error('expected defineFeatureGroup to throw');
}

describe('defineFeatureGroup', () => {
  it('returns a frozen, branded definition', () => {
    expect(isFeatureGroup(cardActivity)).toBe(true);
    expect(isFeatureGroup({ ...cardActivity })).toBe(false);
    expect(Object.isFrozen(cardActivity)).toBe(true);
    expect(Object.isFrozen(cardActivity.featureDefinitions)).toBe(true);
    expect(() => {
      (cardActivity as { name: string }).name = 'other';
    }).toThrow(TypeError);
  });

  it('maps zod types to SageMaker feature definitions, fingerprint last', () => {
    expect(cardActivity.featureDefinitions).toEqual([
      { FeatureName: 'card_id', FeatureType: 'String' },
      { FeatureName: 'event_time', FeatureType: 'String' },
      { FeatureName: 'amount', FeatureType: 'Fractional' },
      { FeatureName: 'is_foreign', FeatureType: 'Integral' },
      { FeatureName: 'skewless_fingerprint', FeatureType: 'String' },
    ]);
    expect(everyType.featureDefinitions.map((d) => [d.FeatureName, d.FeatureType, d.CollectionType])).toEqual([
      ['id', 'Integral', undefined],
      ['at', 'String', undefined],
      ['text', 'String', undefined],
      ['level', 'String', undefined],
      ['count', 'Integral', undefined],
      ['ratio', 'Fractional', undefined],
      ['big', 'Integral', undefined],
      ['flag', 'Integral', undefined],
      ['seen', 'String', undefined],
      ['note', 'String', undefined],
      ['score', 'Fractional', undefined],
      ['tags', 'String', 'List'],
      ['weights', 'Fractional', 'List'],
      ['skewless_fingerprint', 'String', undefined],
    ]);
  });

  it('stores dates as Fractional epoch seconds when the group says so', () => {
    const g = defineFeatureGroup({ ...base, eventTimeFormat: 'epoch-seconds' });
    expect(g.featureDefinitions.find((d) => d.FeatureName === 't')?.FeatureType).toBe('Fractional');
  });

  it('leaves the fingerprint out when lineage is off', () => {
    const g = defineFeatureGroup({ ...base, lineage: false });
    expect(g.featureDefinitions.map((d) => d.FeatureName)).toEqual(['id', 't', 'v']);
  });

  it.each([
    ['', 'empty'],
    ['-leading-dash', 'leading dash'],
    ['trailing_', 'trailing underscore'],
    ['has space', 'space'],
    ['a'.repeat(65), '65 characters'],
    ['dot.name', 'dot'],
  ])('rejects the group name %j (%s)', (name) => {
    expect(definitionError({ ...base, name }).code).toBe('INVALID_NAME');
  });

  it('accepts a 64-character group name', () => {
    expect(defineFeatureGroup({ ...base, name: 'a'.repeat(64) }).name).toHaveLength(64);
  });

  it('rejects invalid feature names', () => {
    const error = definitionError({ ...base, features: z.object({ id: z.string(), t: z.date(), 'bad name': z.string() }) });
    expect(error.code).toBe('INVALID_NAME');
    expect(error.feature).toBe('bad name');
  });

  it.each(['is_deleted', 'write_time', 'api_invocation_time', 'Write_Time'])('rejects the reserved feature name %s', (name) => {
    const error = definitionError({ ...base, features: z.object({ id: z.string(), t: z.date(), [name]: z.string() }) });
    expect(error.code).toBe('RESERVED_NAME');
    expect(error.group).toBe('g');
  });

  it('reserves skewless_fingerprint only while lineage is on', () => {
    const features = z.object({ id: z.string(), t: z.date(), skewless_fingerprint: z.string() });
    expect(definitionError({ ...base, features }).code).toBe('RESERVED_NAME');
    expect(defineFeatureGroup({ ...base, features, lineage: false, transform: () => ({ id: 'a', t: new Date(0), skewless_fingerprint: 'x' }) }).name).toBe('g');
  });

  it('requires the record identifier and event time to be features', () => {
    expect(definitionError({ ...base, recordIdentifier: 'missing' }).code).toBe('MISSING_FEATURE');
    expect(definitionError({ ...base, eventTime: 'missing' }).code).toBe('MISSING_FEATURE');
  });

  it('requires the event time to be a required date', () => {
    expect(definitionError({ ...base, eventTime: 'v' }).code).toBe('INVALID_EVENT_TIME');
    const optionalTime = z.object({ id: z.string(), t: z.date().optional() });
    expect(definitionError({ ...base, features: optionalTime }).code).toBe('INVALID_EVENT_TIME');
  });

  it('requires the record identifier to be a required string or integer', () => {
    expect(definitionError({ ...base, recordIdentifier: 'v' }).code).toBe('INVALID_RECORD_IDENTIFIER');
    const optionalId = z.object({ id: z.string().optional(), t: z.date() });
    expect(definitionError({ ...base, features: optionalId }).code).toBe('INVALID_RECORD_IDENTIFIER');
  });

  it.each([
    ['object', z.object({ a: z.string() })],
    ['union', z.union([z.string(), z.number()])],
    ['record', z.record(z.string(), z.string())],
    ['any', z.any()],
    ['transform', z.string().transform((s) => s.length)],
    ['array of dates', z.array(z.date())],
  ])('rejects the unsupported feature type %s', (_label, schema) => {
    const error = definitionError({
      ...base,
      onlineStorageType: 'InMemory',
      features: z.object({ id: z.string(), t: z.date(), bad: schema }),
    });
    expect(error.code).toBe('UNSUPPORTED_TYPE');
    expect(error.feature).toBe('bad');
    expect(error.message).toContain('"bad"');
  });

  it('rejects collections on the Standard online tier, with the fix in the message', () => {
    const error = definitionError({ ...base, features: z.object({ id: z.string(), t: z.date(), tags: z.array(z.string()) }) });
    expect(error.code).toBe('COLLECTION_NOT_SUPPORTED');
    expect(error.message).toContain('InMemory');
  });

  it('rejects options of the wrong kind', () => {
    expect(definitionError({ ...base, source: { parse() {} } }).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, features: z.string() }).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, transform: 'x' }).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, eventTimeFormat: 'millis' }).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, description: 'x'.repeat(129) }).code).toBe('INVALID_OPTION');
    expect(definitionError(null).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, ttl: { Unit: 'Years', Value: 1 } }).code).toBe('INVALID_OPTION');
    expect(definitionError({ ...base, ttl: { Unit: 'Days', Value: 0 } }).code).toBe('INVALID_OPTION');
  });

  it('selects features by name and refuses unknown ones', () => {
    const selection = cardActivity.select('amount', 'is_foreign');
    expect(selection.groupName).toBe('card-activity');
    expect(selection.features).toEqual(['amount', 'is_foreign']);
    expect(selection.with({ prefix: 'card_', maxAge: '30d' }).options).toEqual({ prefix: 'card_', maxAge: '30d' });
    expect(selection.options).toEqual({});
    const error = (() => {
      try {
        (cardActivity.select as (...n: string[]) => unknown)('amount', 'nope');
      } catch (e) {
        return e as DefinitionError;
      }
    })();
    expect(error?.code).toBe('UNKNOWN_FEATURE');
  });
});

describe('fingerprint', () => {
  const make = (overrides: Record<string, unknown> = {}) => defineFeatureGroup({ ...base, ...overrides } as typeof base);

  it('is 16 hex digits and the same for the same definition', () => {
    expect(make().fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(make().fingerprint).toBe(make().fingerprint);
  });

  it('is the same in another process', () => {
    const script = `
      import { z } from 'zod';
      import { defineFeatureGroup, isoTimestamp } from './src/index.ts';
      const g = defineFeatureGroup({
        name: 'card-activity', recordIdentifier: 'card_id', eventTime: 'event_time',
        source: z.object({ card_id: z.string(), amount_cents: z.number().int(), country: z.string(), ts: isoTimestamp() }),
        features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), is_foreign: z.boolean() }),
        transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100, is_foreign: e.country !== 'US' }),
      });
      process.stdout.write(g.fingerprint);`;
    // Node 20 cannot run TypeScript, so esbuild bundles the script (with src/) first.
    const dir = mkdtempSync(join(tmpdir(), 'skewless-fp-'));
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, script.replace("'./src/index.ts'", JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))));
    buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'entry.mjs'), external: ['@duckdb/*', '@aws-sdk/*'], nodePaths: [fileURLToPath(new URL('../node_modules', import.meta.url))] });
    const other = execFileSync(process.execPath, [join(dir, 'entry.mjs')], { encoding: 'utf8' });
    expect(other).toBe(cardActivity.fingerprint);
  });

  it.each([
    ['name', { name: 'g2' }],
    ['version', { version: 2 }],
    ['event time format', { eventTimeFormat: 'epoch-seconds' }],
    ['source schema', { source: z.object({ id: z.string().min(1) }) }],
    ['features schema', { features: z.object({ id: z.string(), t: z.date(), v: z.number().int() }) }],
    ['transform text', { transform: (e: { id: string }) => ({ id: e.id.trim(), t: new Date(0), v: 1 }) }],
  ])('changes when the %s changes', (_label, overrides) => {
    expect(make(overrides).fingerprint).not.toBe(make().fingerprint);
  });

  it('does not change with the description', () => {
    expect(make({ description: 'about it' }).fingerprint).toBe(make().fingerprint);
  });
});
