import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupSchema, TtlDuration } from '../../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../../schema/feature-spec.js';

export const ACCOUNT_ID = '000000000000';

/** A feature group as the local control plane stores it: CreateFeatureGroup's input plus what it resolved. */
export interface StoredFeatureGroup {
  readonly FeatureGroupName: string;
  readonly FeatureGroupArn: string;
  readonly RecordIdentifierFeatureName: string;
  readonly EventTimeFeatureName: string;
  readonly FeatureDefinitions: readonly FeatureDefinition[];
  /** Epoch milliseconds. */
  readonly CreationTime: number;
  readonly OnlineStoreConfig?: {
    readonly EnableOnlineStore?: boolean;
    readonly TtlDuration?: TtlDuration;
    readonly StorageType?: string;
  };
  readonly OfflineStoreConfig?: {
    readonly S3StorageConfig: { readonly S3Uri: string; readonly ResolvedOutputS3Uri?: string; readonly KmsKeyId?: string };
    readonly DisableGlueTableCreation?: boolean;
    readonly DataCatalogConfig?: { readonly TableName: string; readonly Catalog: string; readonly Database: string };
    readonly TableFormat?: string;
  };
  readonly RoleArn?: string;
  readonly Description?: string;
  readonly Tags?: readonly { Key: string; Value: string }[];
}

export function schemaOf(group: StoredFeatureGroup): GroupSchema {
  return {
    name: group.FeatureGroupName,
    recordIdentifier: group.RecordIdentifierFeatureName,
    eventTime: group.EventTimeFeatureName,
    featureDefinitions: group.FeatureDefinitions,
  };
}

export function onlineEnabled(group: StoredFeatureGroup): boolean {
  return group.OnlineStoreConfig?.EnableOnlineStore === true;
}

/** The feature groups the local stack knows, kept in `<dir>/feature-groups.json`. */
export class Registry {
  private readonly groups = new Map<string, StoredFeatureGroup>();
  private readonly file: string | undefined;

  constructor(dir: string | undefined) {
    this.file = dir === undefined ? undefined : join(dir, 'feature-groups.json');
    if (this.file && existsSync(this.file)) {
      for (const group of JSON.parse(readFileSync(this.file, 'utf8')) as StoredFeatureGroup[]) {
        this.groups.set(group.FeatureGroupName, group);
      }
    }
  }

  get(name: string): StoredFeatureGroup | undefined {
    return this.groups.get(name);
  }

  all(): StoredFeatureGroup[] {
    return [...this.groups.values()];
  }

  put(group: StoredFeatureGroup): void {
    this.groups.set(group.FeatureGroupName, group);
    this.save();
  }

  delete(name: string): void {
    this.groups.delete(name);
    this.save();
  }

  private save(): void {
    if (this.file) writeFileSync(this.file, JSON.stringify(this.all(), null, 2));
  }
}
