// The pricing service's Lambda as deployed, behind an API Gateway HTTP API route `POST /surge-features`:
// its own entry, so importing the serving definitions builds no AWS client.
import { createFeatureStore } from 'skewless';
import { sageMakerOnline } from 'skewless/aws';
import { pricingHandler } from './serve.js';

export const handler = pricingHandler(createFeatureStore({ online: sageMakerOnline(), offline: false }));
