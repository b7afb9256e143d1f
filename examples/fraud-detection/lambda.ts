// The ingestion Lambda as deployed: `handler` in the function's configuration. It fails at cold start,
// with a message naming the variable, when its environment is incomplete.
import { kinesisHandler } from 'skewless/lambda';
import { cardTransactions } from './features.js';
import { ingestStore } from './ingest.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the fraud ingestion Lambda needs the environment variable ${name}`);
  return value;
}

export const handler = kinesisHandler(cardTransactions, {
  store: ingestStore({ stateTable: required('STATE_TABLE'), deadLetterQueueUrl: required('DEAD_LETTER_QUEUE_URL') }),
  metrics: { namespace: 'FraudFeatures' },
});
