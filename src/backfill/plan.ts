import { join } from 'node:path';
import { ConfigurationError } from '../errors.js';
import { requireGroup } from '../feature-group.js';
import { checkOptions, countSchema, describeValue, expected, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { FeatureStore } from '../store/feature-store.js';
import { backfill, backfillKey, type BackfillOptions, type BackfillSummary, rangeSchema } from './backfill.js';
import { asSource, type BackfillSource, type ShardRange, type SourceSpec, sourceFromSpec } from './sources/index.js';

/**
 * One independent piece of a backfill: plain JSON, so it can go to a worker thread or be an item
 * of a Step Functions Distributed Map. Shards of one plan never overlap and together cover the input.
 */
export interface BackfillShard {
  readonly group: string;
  /** Position of the shard in its plan. */
  readonly index: number;
  readonly source: SourceSpec;
  readonly range?: ShardRange;
}

export interface PlanBackfillOptions {
  /** One source or several (e.g. one per file). */
  readonly from: BackfillSource | readonly BackfillSource[];
  /** About how many shards in all; sources that can be split (NDJSON, Parquet) are split to reach it. Default 1 per source. */
  readonly shards?: number;
}

/** One planned source: a source object (an array here is a list of sources, so raw events go through `fromRecords`). */
function planSource(from: unknown): BackfillSource {
  if (Array.isArray(from) || (typeof from === 'object' && from !== null && !('read' in from))) {
    throw new ConfigurationError('INVALID_CONFIG', `planBackfill: from is a source or a list of sources (ndjsonFile(), parquetFile(), fromRecords(events), ...), got ${describeValue(from)}`);
  }
  return asSource(from as BackfillSource, 'planBackfill');
}

/**
 * Splits a backfill into shards: files stay whole unless they can be split (NDJSON by byte range,
 * aligned to lines when read; Parquet by row groups). Run each with `backfillShard`, on worker threads
 * (`backfillOnWorkers` in `skewless/local`) or in Lambda (`backfillShardHandler` in `skewless/aws`).
 *
 * ### Example
 * ```ts
 * const shards = await planBackfill(cardActivity, { from: [ndjsonFile('a.ndjson'), ndjsonFile('b.ndjson')], shards: 8 });
 * for (const shard of shards) await backfillShard(store, cardActivity, shard);
 * ```
 */
export async function planBackfill(group: AnyFeatureGroup, options: PlanBackfillOptions): Promise<BackfillShard[]> {
  requireGroup(group, 'planBackfill');
  checkOptions(z.strictObject({ from: z.unknown(), shards: z.optional(positiveInteger()) }), options, 'planBackfill options');
  const sources = (Array.isArray(options.from) ? (options.from as readonly BackfillSource[]) : [options.from as BackfillSource]).map((from) => planSource(from));
  const aggregated = Object.keys(group.aggregations).length > 0;
  if (aggregated && sources.length > 1) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}" has aggregations: each entity's history must be replayed in one piece, so plan one source (one shard) for it`,
    );
  }
  // An aggregation backfill replays whole entity histories: one shard.
  const wanted = aggregated ? 1 : Math.max(sources.length, options.shards ?? sources.length);
  const perSource = Math.max(1, Math.round(wanted / sources.length));
  const shards: BackfillShard[] = [];
  for (const source of sources.map((s) => asSource(s))) {
    if (!source.spec) {
      throw new ConfigurationError('INVALID_CONFIG', `source ${source.id} lives in memory and cannot be sharded: use a file, S3 or Athena source`);
    }
    const ranges = perSource > 1 && source.splittable && source.split ? await source.split(perSource) : [undefined];
    for (const range of ranges) {
      shards.push({ group: group.name, index: shards.length, source: source.spec, ...(range ? { range } : {}) });
    }
  }
  return shards;
}

/**
 * Picks, by file name, the offline files of the shards' sources that none of the shards writes
 * (`backfill-<key>-...`): what a run of the same sources under another plan left (another number of
 * shards, a file that changed since), to remove before the plan runs.
 */
export function earlierPlanFiles(shards: readonly BackfillShard[]): (fileName: string) => boolean {
  const sources = new Set<string>();
  const own: string[] = [];
  for (const shard of shards) {
    let source: BackfillSource;
    try {
      source = sourceFromSpec(shard.source);
    } catch {
      // A source that cannot be opened (a file gone): its shard fails with the reason when it runs.
      continue;
    }
    sources.add(`backfill-${backfillKey({ name: shard.group }, source, undefined)}-`);
    own.push(`backfill-${backfillKey({ name: shard.group }, source, shard.range)}-`);
  }
  return (name) => [...sources].some((prefix) => name.startsWith(prefix)) && !own.some((prefix) => name.startsWith(prefix));
}

/**
 * The source of a shard; `resolve` recreates kinds the core does not know (S3, Athena).
 *
 * ### Example
 * ```ts
 * const source = shardSource(shard, (spec) => awsSourceFromSpec(spec));
 * ```
 */
export function shardSource(shard: BackfillShard, resolve?: (spec: SourceSpec) => BackfillSource | undefined): BackfillSource {
  return resolve?.(shard.source) ?? sourceFromSpec(shard.source);
}

/**
 * Runs one shard of a plan through `backfill`. Each shard has its own output file names and,
 * given `checkpointDir`, its own checkpoint, so shards can run anywhere, in any order, and again.
 *
 * ### Example
 * ```ts
 * const summary = await backfillShard(store, cardActivity, shard, { checkpointDir: '.skewless/checkpoints' });
 * ```
 */
export async function backfillShard(
  store: FeatureStore,
  group: AnyFeatureGroup,
  shard: BackfillShard,
  options: Omit<BackfillOptions, 'from' | 'range' | 'checkpoint'> & {
    /** A directory for one checkpoint file per shard. */
    readonly checkpointDir?: string;
    readonly resolve?: (spec: SourceSpec) => BackfillSource | undefined;
  } = {},
): Promise<BackfillSummary> {
  requireGroup(group, 'backfillShard');
  checkOptions(
    z.object({ group: z.string(), index: countSchema(), source: z.object({ kind: z.string() }), range: z.optional(rangeSchema()) }, { error: expected('a shard from planBackfill') }),
    shard,
    'backfillShard shard',
  );
  if (shard.group !== group.name) {
    throw new ConfigurationError('INVALID_CONFIG', `shard ${shard.index} belongs to group "${shard.group}", not "${group.name}"`);
  }
  const { checkpointDir, resolve, ...rest } = options;
  return backfill(store, group, {
    ...rest,
    from: shardSource(shard, resolve),
    ...(shard.range ? { range: shard.range } : {}),
    ...(checkpointDir ? { checkpoint: join(checkpointDir, `${group.name}-shard-${String(shard.index).padStart(5, '0')}.json`) } : {}),
  });
}
