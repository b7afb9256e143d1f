import { join } from 'node:path';
import type { GroupSchema } from '../../schema/sagemaker-record.js';
import type { OfflineStore, OfflineWrite, OnlineStore } from '../../store/types.js';
import { type LocalOfflineStore, openLocalOffline } from '../offline-store.js';
import type { FaultInjector } from './faults.js';
import { AwsError } from './http.js';
import { type Registry, schemaOf, type StoredFeatureGroup } from './registry.js';

/** `s3://bucket/key` -> the local path that holds it under the stack's S3 root. */
export function s3Path(root: string, uri: string): string {
  const match = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new AwsError('ValidationException', `not an S3 URI: ${uri}`);
  const [, bucket, key = ''] = match;
  if (key.split('/').some((part) => part === '..')) throw new AwsError('ValidationException', `S3 key may not contain "..": ${uri}`);
  return join(root, bucket as string, key);
}

/** The S3 URI under which a group's offline files go: `<S3Uri>/<group>/data`. */
export function resolvedOfflineUri(group: StoredFeatureGroup): string | undefined {
  const uri = group.OfflineStoreConfig?.S3StorageConfig.S3Uri;
  return uri === undefined ? undefined : `${uri.replace(/\/+$/, '')}/${group.FeatureGroupName}/data`;
}


/**
 * Offline writes, buffered and written in batches as SageMaker does (it delivers the offline store
 * minutes after PutRecord). Anything that reads offline data flushes first, so reads are never stale.
 */
export class OfflineWriter {
  private readonly stores = new Map<string, Promise<LocalOfflineStore>>();
  private readonly pending = new Map<string, { group: GroupSchema; base: string; writes: OfflineWrite[] }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly s3Root: string,
    private readonly maxBuffered = 20_000,
    private readonly flushAfterMs = 250,
  ) {}

  /** The offline store that writes under `base` (a directory), one per base. */
  storeFor(base: string): Promise<LocalOfflineStore> {
    let store = this.stores.get(base);
    if (!store) {
      store = openLocalOffline({ dir: base });
      this.stores.set(base, store);
    }
    return store;
  }

  baseOf(group: StoredFeatureGroup): string | undefined {
    const uri = group.OfflineStoreConfig?.S3StorageConfig.S3Uri;
    return uri === undefined ? undefined : s3Path(this.s3Root, uri);
  }

  enqueue(group: StoredFeatureGroup, write: OfflineWrite): void {
    const base = this.baseOf(group);
    if (base === undefined) return;
    const key = `${base}\u0000${group.FeatureGroupName}`;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { group: schemaOf(group), base, writes: [] };
      this.pending.set(key, entry);
    }
    entry.writes.push(write);
    if (entry.writes.length >= this.maxBuffered) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushAfterMs);
  }

  /** Writes everything buffered; resolves when it is on disk. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batches = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const batch of batches) await (await this.storeFor(batch.base)).append(batch.group, batch.writes);
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    for (const store of this.stores.values()) await (await store).close();
  }
}

export interface StackContext {
  readonly registry: Registry;
  readonly online: OnlineStore;
  readonly offline: OfflineWriter;
  readonly s3Root: string;
  readonly faults: FaultInjector;
  readonly now: () => number;
}

export function requireGroup(context: StackContext, name: string): StoredFeatureGroup {
  const group = context.registry.get(name);
  if (!group) throw new AwsError('ResourceNotFound', `Resource Not Found: feature group ${name} does not exist`, 404);
  return group;
}

export type { OfflineStore };
