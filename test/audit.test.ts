import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AthenaClient } from '@aws-sdk/client-athena';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { athenaOffline, sageMakerOnline } from '../src/aws/index.js';
import { audit, backfill, count, createFeatureStore, defineFeatureGroup, type FeatureStore, lineage, sum } from '../src/index.js';
import { type LocalStack, localOffline, localOnline, startLocalStack } from '../src/local/index.js';
import { memoryAggregationState } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';

const source = z.object({ card_id: z.string(), amount_cents: z.number().int(), ts: z.string() });
const features = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), big: z.boolean() });

/** The card group; `version` stands for a change in the code (a new fingerprint). */
const cards = (version?: number) =>
  defineFeatureGroup({
    name: 'audited-cards',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    ttl: { Unit: 'Days', Value: 30 },
    source,
    features,
    transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100, big: e.amount_cents > 10_000 }),
    ...(version === undefined ? {} : { version }),
  });
const group = cards();

const day = Date.UTC(2024, 4, 1);
const event = (card: string, minute: number, cents: number) => ({ card_id: card, amount_cents: cents, ts: new Date(day + minute * 60_000).toISOString() });

describe('audit on the embedded stores', () => {
  let clock = day + 3_600_000;
  let store: FeatureStore;
  const at = () => new Date(clock + 3_600_000);

  beforeAll(async () => {
    store = createFeatureStore({
      online: localOnline({ memory: true, now: () => clock }),
      offline: localOffline({ memory: true }),
      now: () => clock,
    });
    const history = Array.from({ length: 400 }, (_, i) => event(`card-${i % 100}`, i, 100 * i));
    await store.ingest(group, history);
  });
  afterAll(() => store.close());

  it('finds a store written by the same code fully consistent', async () => {
    const report = await audit(store, group, { sample: 100, at: at() });
    expect(report.sampled).toBe(100);
    expect(report.consistencyRate).toBe(1);
    expect(report.features['amount']).toMatchObject({ match: 100, mismatch: 0, matchRate: 1, differences: { count: 100, max: 0 } });
    expect(Object.values(report.causes).every((n) => n === 0)).toBe(true);
  });

  it("audits the store's present by the store's clock, as serving reads it, when not given a moment", async () => {
    // The clock is in 2024 (day + 1h): the wall clock's now would see every offline row as available and every record current.
    const report = await audit(store, group, { sample: 10 });
    expect(report.at).toEqual(new Date(clock));
    // The embedded offline store has no availability delay: rows are visible as they are written.
    expect(report.visibleUntil).toEqual(new Date(clock));
  });

  it('counts the sampled records another definition wrote, by fingerprint, even where both stores agree', async () => {
    expect((await audit(store, group, { sample: 100, at: at() })).otherDefinitions).toEqual({});
    // The same group with a required feature added: every stored record predates it, and lacks it on both sides.
    const added = defineFeatureGroup({
      name: 'audited-cards',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      ttl: { Unit: 'Days', Value: 30 },
      source,
      features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), big: z.boolean(), country: z.string() }),
      transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100, big: e.amount_cents > 10_000, country: 'US' }),
    });
    const report = await audit(store, added, { sample: 100, at: at() });
    expect(report.otherDefinitions).toEqual({ [group.fingerprint]: 100 });
    expect(report).toMatchObject({ sampled: 100, consistencyRate: 1, features: { country: { match: 100 } } });
    // A record without a fingerprint (written by code that sets none) names no definition.
    const { online } = await store.backends();
    const unmarked = group.codec.toRecord({ card_id: 'card-unmarked', event_time: new Date(day), amount: 1, big: false }).filter((f) => f.FeatureName !== 'skewless_fingerprint');
    await online.put(group, [unmarked]);
    expect((await audit(store, added, { sample: ['card-unmarked', 'card-0'], at: at() })).otherDefinitions).toEqual({ [group.fingerprint]: 1 });
  });

  it('leaves out the identifiers of a sample list that neither store has ever had, and names them', async () => {
    // A typo, and a number where the identifier is a string: neither has a row or a record.
    const report = await audit(store, group, { sample: ['card-5', 'card-typo', 1, 'card-6'], at: at() });
    expect(report).toMatchObject({ sampled: 2, consistent: 2, consistencyRate: 1, unknown: ['card-typo', '1'] });
    expect(report.features['amount']).toMatchObject({ match: 2, matchRate: 1 });
    const nothing = await audit(store, group, { sample: ['nobody'], at: at() });
    expect(nothing).toMatchObject({ sampled: 0, consistent: 0, consistencyRate: undefined, unknown: ['nobody'] });
    // Drawn from the offline store, a sample has no unknown identifier.
    expect((await audit(store, group, { sample: 10, at: at() })).unknown).toEqual([]);
  });

  it('samples deterministically for a seed', async () => {
    const ids = async (seed: number) => (await audit(store, group, { sample: 5, seed, at: at(), examples: 0 })).sampled;
    expect(await ids(3)).toBe(5);
    const a = await audit(store, group, { sample: 10, seed: 3, at: at() });
    const b = await audit(store, group, { sample: 10, seed: 3, at: at() });
    expect(a).toMatchObject({ sampled: b.sampled, consistent: b.consistent });
  });

  it('attributes each injected difference to its cause', async () => {
    const { online, offline } = await store.backends();
    // 1. A record written online by changed code.
    const changed = cards(2);
    await online.put(changed, [changed.codec.toRecord({ card_id: 'card-1', event_time: new Date(day + 500 * 60_000), amount: 1, big: false })]);
    // 2. A record whose offline row arrives late: written now, visible only after the delay.
    clock += 3_600_000;
    await store.ingest(group, [event('card-2', 600, 777)]);
    // 3. A soft delete whose marker is not visible offline yet.
    await store.delete(group, 'card-3', new Date(day + 601 * 60_000), 'SoftDelete');
    // 4. An online value edited by hand (same event time, same code, another amount).
    const current = await store.get(group, 'card-4');
    // (A hard delete needs a newer event time; it forgets the identifier, so the edited copy applies.)
    await online.delete(group, 'card-4', new Date((current?.event_time as Date).getTime() + 1).toISOString(), 'HardDelete');
    await online.put(group, [group.codec.toRecord({ ...(current as NonNullable<typeof current>), amount: 123.45 })]);
    // 5. A record served online past the group's 30-day TTL (written online without it), its event
    // time 40 days before the audit: the training rule gives null for it by now.
    const old = 'card-old';
    const oldRecord = group.codec.toRecord({ card_id: old, event_time: new Date(day - 40 * 86_400_000), amount: 5, big: false });
    await offline?.append(group, [{ record: oldRecord, writeTime: new Date(day - 40 * 86_400_000), apiInvocationTime: new Date(day - 40 * 86_400_000), isDeleted: false }]);
    await online.put(group, [oldRecord]);

    // SageMaker's delivery delay, on the embedded store that has none: the row written last is not visible yet.
    const report = await audit(store, group, { sample: ['card-0', 'card-1', 'card-2', 'card-3', 'card-4', old], at: new Date(clock + 5 * 60_000), availabilityDelay: '15m' });
    const causeOf = (id: string) => report.examples.find((e) => e.id === id)?.cause;
    expect(causeOf('card-0')).toBeUndefined();
    expect(causeOf('card-1')).toBe('fingerprint');
    expect(causeOf('card-2')).toBe('offline-lag');
    expect(causeOf('card-3')).toBe('delete-pending');
    expect(causeOf('card-4')).toBe('unexplained');
    expect(causeOf(old)).toBe('ttl-expired');
    expect(report).toMatchObject({ sampled: 6, consistent: 1 });
    // The online record's fingerprint names who wrote it; the offline row's only where there is none online.
    expect(report.otherDefinitions).toEqual({ [changed.fingerprint]: 1 });
    expect(report.causes).toMatchObject({ fingerprint: 1, 'offline-lag': 1, 'delete-pending': 1, unexplained: 1, 'ttl-expired': 1, 'late-events': 0 });
    expect(report.features['amount']?.mismatch).toBeGreaterThanOrEqual(3);
    expect(report.examples.find((e) => e.id === 'card-4')).toMatchObject({ features: ['amount'], online: { amount: 123.45 } });

    const versions = await lineage(store, group);
    expect(versions.offline.map((e) => [e.fingerprint, e.current])).toEqual([[group.fingerprint, true]]);
    expect(versions.online.find((e) => e.fingerprint === changed.fingerprint)).toMatchObject({ records: 1, current: false });
  });
});

describe('audit with aggregations', () => {
  it('attributes aggregate-only differences to late events', async () => {
    const velocity = defineFeatureGroup({
      name: 'audited-velocity',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source,
      features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100 }),
      aggregations: { n_1h: count({ window: '1h' }), sum_1h: sum('amount', { window: '1h' }) },
      allowedLateness: '1m',
    });
    const clock = day + 86_400_000;
    const offline = await localOffline({ memory: true });
    const stream = createFeatureStore({ online: localOnline({ memory: true }), offline: false, aggregationState: memoryAggregationState(), now: () => clock });
    // The stream receives a late event (10 minutes behind) and leaves it out; the backfill, ordered by event time, counts it.
    const arrivals = [event('c1', 0, 100), event('c1', 30, 200), event('c1', 20, 300), event('c1', 40, 400)];
    await stream.ingest(velocity, arrivals);
    const history = createFeatureStore({ online: localOnline({ memory: true }), offline, aggregationState: memoryAggregationState(), now: () => clock });
    await backfill(history, velocity, { from: arrivals, order: 'event-time' });
    const audited = createFeatureStore({ online: (await stream.backends()).online, offline });
    const report = await audit(audited, velocity, { at: new Date(clock + 3_600_000) });
    expect(report.examples).toMatchObject([{ id: 'c1', cause: 'late-events', features: ['n_1h', 'sum_1h'] }]);
    await history.close();
    await stream.close();
  });
});

describe('audit of 10,000 identifiers', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
  });
  afterAll(() => stack.close());

  // Recent events: the group's 30-day TTL must not expire them before the audit.
  const recent = Date.now() - 86_400_000;
  const history = Array.from({ length: 10_000 }, (_, i) => ({ card_id: `card-${i}`, amount_cents: i, ts: new Date(recent + (i % 1440) * 60_000).toISOString() }));

  it('runs on the embedded local stores', async () => {
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
    await store.ingest(group, history);
    const report = await audit(store, group, { sample: 10_000, at: new Date(Date.now() + 3_600_000) });
    expect(report).toMatchObject({ sampled: 10_000, consistent: 10_000 });
    await store.close();
  });

  it('runs against SageMaker and its S3 offline store on the local stack', async () => {
    await createGroupOnStack(stack.clientConfig, group, 's3://audit-lake/offline');
    const runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
    const writer = createFeatureStore({ online: sageMakerOnline({ client: runtime }), offline: false });
    const summary = await writer.ingest(group, history);
    expect(summary.accepted).toBe(10_000);
    await stack.flush();
    const store = createFeatureStore({
      online: sageMakerOnline({ client: runtime }),
      // SageMaker's offline store, read as on AWS: Athena over the Glue table DescribeFeatureGroup names.
      offline: athenaOffline({ client: new AthenaClient(stack.clientConfig), s3: new S3Client(stack.clientConfig), sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://audit-lake/athena/' }),
    });
    // SageMaker stamps write times itself: audit an hour from now, past the availability delay.
    const report = await audit(store, group, { sample: 10_000, at: new Date(Date.now() + 3_600_000) });
    expect(report).toMatchObject({ sampled: 10_000, consistent: 10_000, consistencyRate: 1 });
    expect(report.features['big']).toMatchObject({ match: 10_000 });
    await store.close();
  });
});
