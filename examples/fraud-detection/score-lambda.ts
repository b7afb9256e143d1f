// The scoring Lambda as deployed, behind an API Gateway HTTP API route `POST /fraud-features`: its own
// entry, so importing the scoring definitions builds no AWS client.
import { createFeatureStore } from 'skewless';
import { sageMakerOnline } from 'skewless/aws';
import { scoringHandler } from './score.js';

export const handler = scoringHandler(createFeatureStore({ online: sageMakerOnline(), offline: false }));
