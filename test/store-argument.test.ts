import { describe, expect, it } from 'vitest';
import { audit, auditVectors, backfill, featureVectors, lineage, trainingSet, type FeatureStore } from '../src/index.js';
import { memoryOnline } from '../src/testing/index.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

// A JavaScript caller's wrong first argument: every engine refuses it before reaching a backend,
// naming the call and what it got, never `store.backends is not a function`.
const features = [cardActivity.select('amount')];
const calls: [string, (store: FeatureStore) => Promise<unknown>][] = [
  ['backfill', (store) => backfill(store, cardActivity, { from: [validCardEvent] })],
  ['trainingSet', (store) => trainingSet(store, { spine: [{ card_id: 'c1', at: new Date() }], entityKey: 'card_id', timestamp: 'at', features })],
  ['audit', (store) => audit(store, cardActivity)],
  ['lineage', (store) => lineage(store, cardActivity)],
  ['auditVectors', (store) => auditVectors(store, { entityKey: 'card_id', features })],
  ['auditVectors', (store) => auditVectors(store, { entities: [{ card_id: 'c1' }], entityKey: 'card_id', features })],
  ['featureVectors', (store) => featureVectors(store, { entities: [{ card_id: 'c1' }], entityKey: 'card_id', features })],
];

describe('an engine given something other than a feature store', () => {
  it.each(calls)('%s names itself and what it got', async (name, call) => {
    for (const [given, got] of [
      [{}, 'an object'],
      [undefined, 'undefined'],
      ['.skewless', '".skewless"'],
    ] as const) {
      await expect(call(given as unknown as FeatureStore)).rejects.toMatchObject({
        name: 'ConfigurationError',
        code: 'INVALID_CONFIG',
        message: `${name}: expected a feature store made by createFeatureStore, got ${got}`,
      });
    }
  });

  it.each(calls)('%s says to pass backends to createFeatureStore', async (name, call) => {
    const backends = { online: memoryOnline(), offline: false };
    await expect(call(backends as unknown as FeatureStore)).rejects.toMatchObject({
      message: `${name}: expected a feature store made by createFeatureStore, got an object: pass these backends to createFeatureStore and give its store`,
    });
  });
});
