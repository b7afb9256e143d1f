// Backfill: history through the same pipeline and the same velocity reducer, into the offline store
// (Parquet with SageMaker's offline columns on S3) and the latest record per card online.
import type { FeatureStore } from 'skewless';
import { backfill, ndjsonFile } from 'skewless';
import { cardTransactions } from './features.js';

export async function backfillHistory(store: FeatureStore, file: string, onProgress?: (done: number) => void) {
  return backfill(store, cardTransactions, {
    from: ndjsonFile(file),
    // History exported with the Kinesis arrival time keeps the stream's processing order for velocity.
    order: { arrival: 'arrival_ms' },
    to: 'both',
    ...(onProgress ? { onProgress: (p: { done: number }) => onProgress(p.done) } : {}),
  });
}
