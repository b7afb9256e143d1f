import { join } from 'node:path';
import type { GroupSchema } from '../../schema/sagemaker-record.js';
import type { OfflineStore, OfflineWrite, OnlineStore } from '../../store/types.js';
import { type LocalOfflineStore, openLocalOffline } from '../offline-store.js';
import type { FaultInjector } from './faults.js';
import { AwsError } from './http.js';
import { ACCOUNT_ID, type Registry, schemaOf, type StoredFeatureGroup } from './registry.js';

/** `s3://bucket/key` -> the local path that holds it under the stack's S3 root. */
export function s3Path(root: string, uri: string): string {
  const match = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new AwsError('ValidationException', `not an S3 URI: ${uri}`);
  const [, bucket, key = ''] = match;
  if (key.split('/').some((part) => part === '..')) throw new AwsError('ValidationException', `S3 key may not contain "..": ${uri}`);
  return join(root, bucket as string, key);
}

/**
 * Where SageMaker writes a group's offline files, and reports as `ResolvedOutputS3Uri`:
 * `<S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation epoch seconds>/data`
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-offline.html).
 */
export function resolveOfflineUri(s3Uri: string, account: string, region: string, group: string, createdMs: number): string {
  return `${s3Uri.replace(/\/+$/, '')}/${account}/sagemaker/${region}/offline-store/${group}-${Math.floor(createdMs / 1000)}/data`;
}

/** The resolved offline location of a group the stack created (undefined without an offline store). */
export function resolvedOfflineUri(group: StoredFeatureGroup): string | undefined {
  const storage = group.OfflineStoreConfig?.S3StorageConfig;
  if (!storage) return undefined;
  // A group saved before the stack recorded the resolved location: derive it the same way.
  const [, , , region = 'us-east-1', account = ACCOUNT_ID] = group.FeatureGroupArn.split(':');
  return storage.ResolvedOutputS3Uri ?? resolveOfflineUri(storage.S3Uri, account, region, group.FeatureGroupName, group.CreationTime);
}

/**
 * Offline writes, buffered and written in batches as SageMaker does (it delivers the offline store
 * minutes after PutRecord), each group's under its resolved location in the stack's S3. Anything that
 * reads offline data flushes first, so reads are never stale.
 */
export class OfflineWriter {
  private opened: Promise<LocalOfflineStore> | undefined;
  private readonly pending = new Map<string, { group: GroupSchema; writes: OfflineWrite[] }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly s3Root: string,
    private readonly groupOf: (name: string) => StoredFeatureGroup | undefined,
    private readonly maxBuffered = 20_000,
    private readonly flushAfterMs = 250,
  ) {}

  /** The local directory of a group's resolved offline location. */
  dataDirOf(name: string): string {
    const group = this.groupOf(name);
    const uri = group && resolvedOfflineUri(group);
    if (uri === undefined) throw new AwsError('ValidationError', `feature group ${name} has no OfflineStore`);
    return s3Path(this.s3Root, uri);
  }

  /** The offline store that writes every group's files. */
  store(): Promise<LocalOfflineStore> {
    this.opened ??= openLocalOffline({ dir: this.s3Root }, (name) => this.dataDirOf(name));
    return this.opened;
  }

  enqueue(group: StoredFeatureGroup, write: OfflineWrite): void {
    if (!group.OfflineStoreConfig) return;
    const key = group.FeatureGroupName;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { group: schemaOf(group), writes: [] };
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
      for (const batch of batches) await (await this.store()).append(batch.group, batch.writes);
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flush();
    // The files are the stack's S3 objects: closing the store must not remove them.
    if (this.opened) await (await this.opened).close();
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

/**
 * The group a call names, or the error AWS answers with when there is none. The runtime's writes
 * answer `ValidationError` (400) with a "Resource Not Found" message, as observed from AWS (the
 * runtime model lists no other error for PutRecord or DeleteRecord; aws/sagemaker-python-sdk issue
 * 2606 quotes the message); GetRecord answers `ResourceNotFound` (404), which its model lists; the
 * control plane answers `ResourceNotFound` (DescribeFeatureGroup's only modelled error, 400 as an
 * awsJson client error).
 */
export function requireGroup(context: StackContext, name: string, api: 'write' | 'GetRecord' | 'control' = 'write'): StoredFeatureGroup {
  const group = context.registry.get(name);
  if (group) return group;
  const message = `Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [${name}].`;
  if (api === 'write') throw new AwsError('ValidationError', message);
  throw new AwsError('ResourceNotFound', message, api === 'GetRecord' ? 404 : 400);
}

export type { OfflineStore };
