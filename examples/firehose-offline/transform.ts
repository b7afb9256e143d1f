// A Firehose transformation Lambda: the same group's pipeline turns raw clickstream events into offline
// rows (JSON, SageMaker's columns included) with year/month/day/hour partition keys, so Firehose's dynamic
// partitioning delivers them into the offline store's layout: s3://<bucket>/<prefix>/<group>/data/year=!{partitionKeyFromLambda:year}/...
import { z } from 'zod';
import { defineFeatureGroup, isoTimestamp } from 'skewless';
import { firehoseTransform } from 'skewless/lambda';

export const pageViews = defineFeatureGroup({
  name: 'page-views',
  recordIdentifier: 'session_id',
  eventTime: 'event_time',
  source: z.object({ session_id: z.string(), user_id: z.string().optional(), url: z.url(), referrer: z.string().optional(), ms_on_page: z.number().int().nonnegative(), at: isoTimestamp() }),
  features: z.object({
    session_id: z.string(),
    event_time: z.date(),
    user_id: z.string().optional(),
    path: z.string(),
    from_search: z.boolean(),
    seconds_on_page: z.number(),
  }),
  transform: (e) => ({
    session_id: e.session_id,
    event_time: e.at,
    user_id: e.user_id,
    path: new URL(e.url).pathname,
    from_search: /google\.|bing\.|duckduckgo\./.test(e.referrer ?? ''),
    seconds_on_page: e.ms_on_page / 1000,
  }),
});

/** The Lambda Firehose invokes; poison records come back `ProcessingFailed` (Firehose's error output). */
export const handler = firehoseTransform(pageViews);
