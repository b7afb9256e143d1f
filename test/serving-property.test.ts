// Served == trained, for random histories: ties on event time, soft deletes, TTL and maxAge a
// millisecond either side of the read's instant. Every write goes through one store (online backend +
// the embedded offline store); the served vector at `at` must equal the training row for `at` on the
// reference engine and on DuckDB, with each online backend.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbOnline, sageMakerOnline } from '../src/aws/index.js';
import { createFeatureStore, defineFeatureGroup, featureVectors, type OnlineStore, trainingSet } from '../src/index.js';
import { type LocalStack, localOffline, localOnline, startLocalStack } from '../src/local/index.js';
import type { GroupSchema, OfflineStore, OfflineWrite } from '../src/index.js';
import { type AthenaLake, athenaLake } from './fixtures/athena-lake.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { createFeatureTable } from './setup/tables.js';

const MINUTE = 60_000;
// Half an hour ahead of the real clock: the online stores hide expired records by the real clock, so
// expiries at or just after the read's instant are still returned, and the rule at AT decides.
const AT = Math.floor(Date.now() / 1000) * 1000 + 30 * MINUTE;
const TTL_MS = 5 * MINUTE;
const MAX_AGE_MS = 4 * MINUTE;

const schema = z.object({ id: z.string(), at: z.date(), value: z.number(), tag: z.string() });

/** The two groups of one run, under names of their own so runs on a shared backend stay apart. */
function groupsOf(run: number | string) {
  const plain = defineFeatureGroup({ name: `prop-plain-${run}`, recordIdentifier: 'id', eventTime: 'at', source: schema, features: schema, transform: (e) => e });
  const expiring = defineFeatureGroup({
    name: `prop-expiring-${run}`,
    recordIdentifier: 'id',
    eventTime: 'at',
    ttl: { Unit: 'Minutes', Value: TTL_MS / MINUTE },
    source: schema,
    features: schema,
    transform: (e) => e,
  });
  const features = [
    plain.select('value', 'tag').with({ maxAge: `${MAX_AGE_MS / MINUTE}m`, prefix: 'plain_' }),
    expiring.select('value', 'tag').with({ prefix: 'expiring_' }),
  ] as const;
  return { plain, expiring, features };
}
type Groups = ReturnType<typeof groupsOf>;

/**
 * Event times clustered on the edges that matter (ties among them are likely): AT, AT - maxAge,
 * AT - TTL, each ±1 ms, never after AT: a record dated after the read's instant hides the older ones
 * online, a documented limit (test/feature-vectors.test.ts shows it).
 */
const eventTime = fc.constantFrom(...[0, MAX_AGE_MS, TTL_MS, 2 * MINUTE].flatMap((back) => [AT - back - 1, AT - back, AT - back + 1].filter((t) => t <= AT)));
const op = fc.record({
  id: fc.constantFrom('a', 'b', 'c'),
  group: fc.constantFrom('plain', 'expiring'),
  at: eventTime,
  kind: fc.constantFrom('put', 'put', 'put', 'delete'),
  value: fc.integer({ min: -50, max: 50 }),
});

type Op = { id: string; group: string; at: number; kind: string; value: number };

const entities = ['a', 'b', 'c', 'd', 'a'].map((id) => ({ id }));

/** The embedded offline store, also keeping every write it takes (to replay into another offline store). */
function keeping(offline: OfflineStore): OfflineStore & { readonly writes: { group: GroupSchema; writes: OfflineWrite[] }[] } {
  const writes: { group: GroupSchema; writes: OfflineWrite[] }[] = [];
  return {
    writes,
    async append(group, given, options) {
      writes.push({ group, writes: [...given] });
      await offline.append(group, given, options);
    },
    scan: (group) => offline.scan(group),
    close: () => offline.close(),
  };
}

async function servedAndTrained(online: OnlineStore, { plain, expiring, features }: Groups, history: readonly Op[], lake?: AthenaLake) {
  const offline = keeping(await localOffline({ memory: true }));
  // Writes see a clock that moves, so each one has its own API invocation time (write order).
  let clock = AT - 60 * MINUTE;
  const writer = createFeatureStore({ online, offline, now: () => clock++ });
  for (const o of history) {
    const group = o.group === 'plain' ? plain : expiring;
    if (o.kind === 'delete') await writer.delete(group, o.id, new Date(o.at), 'SoftDelete');
    else {
      const summary = await writer.ingest(group, [{ id: o.id, at: new Date(o.at), value: o.value, tag: `${o.group}-${o.value}` }]);
      expect(summary.failed).toBe(0);
    }
  }
  const reader = createFeatureStore({ online, offline, now: () => AT });
  const served = await featureVectors(reader, { entities, entityKey: 'id', features });
  const spine = entities.map((e) => ({ ...e, t: new Date(AT) }));
  const trained = await Promise.all(
    (['reference', 'auto'] as const).map(async (engine) => (await trainingSet(reader, { spine, entityKey: 'id', timestamp: 't', features, engine })).rows.map(({ t: _t, ...row }) => row)),
  );
  let athena: Record<string, unknown>[] | undefined;
  if (lake) {
    await lake.replaceAll(offline.writes);
    athena = (await trainingSet(lake.store(), { spine, entityKey: 'id', timestamp: 't', features })).rows.map(({ t: _t, ...row }) => row);
  }
  await offline.close();
  return { served: served.rows, reference: trained[0], duckdb: trained[1], athena };
}

let run = 0;

function parity(name: string, open: (groups: Groups) => Promise<OnlineStore>, runs: number) {
  it(`${name}: the served vector at t is the training row at t (reference engine and DuckDB)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 14 }), async (history) => {
        const groups = groupsOf(++run);
        const online = await open(groups);
        const { served, reference, duckdb } = await servedAndTrained(online, groups, history);
        await online.close();
        expect(reference).toEqual(served);
        expect(duckdb).toEqual(served);
      }),
      { numRuns: runs },
    );
  });
}

describe('served == trained for random histories', () => {
  let stack: LocalStack;
  let dynamo: DynamoDBClient;
  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    dynamo = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  parity('embedded online store', async () => localOnline({ memory: true }), 60);
  parity('sageMakerOnline on the local stack', async ({ plain, expiring }) => {
    await createGroupOnStack(stack.clientConfig, plain);
    await createGroupOnStack(stack.clientConfig, expiring);
    // Online only: the offline rows come from the same store's offline tier, as for the other backends.
    return sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig), targetStores: ['OnlineStore'] });
  }, 25);
  it('embedded online store, Athena engine on the local stack: the served vector at t is the training row at t', async () => {
    const groups = groupsOf('lake');
    const lake = await athenaLake('serving-lake', [groups.plain, groups.expiring]);
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), async (history) => {
          const { served, athena } = await servedAndTrained(await localOnline({ memory: true }), groups, history, lake);
          expect(athena).toEqual(served);
        }),
        { numRuns: 12 },
      );
    } finally {
      await lake.close();
    }
  });
  parity('dynamoDbOnline on dynalite', async () => {
    const tableName = `prop-${run}-${Math.random().toString(36).slice(2, 8)}`;
    await createFeatureTable(dynamo, tableName);
    return dynamoDbOnline({ client: dynamo, tableName });
  }, 25);
});
