import { BackendError, firstLine } from '../errors.js';
import { type ColumnSpec, ParquetFileBuilder } from '../parquet/file.js';
import { readParquetRows } from '../parquet/reader.js';
import type { FeatureValue } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import type { OfflineStoredRow, OfflineWrite } from '../store/types.js';

// Offline files are written by skewless' own writer (parquet/) and read with hyparquet: both pure JS, so they run inside Lambda.

const PHYSICAL: Record<FeatureDefinition['FeatureType'], ColumnSpec['type']> = { String: 'BYTE_ARRAY', Integral: 'INT64', Fractional: 'DOUBLE' };

/** Rows per row group: a backfill chunk's file is one row group; a very large append is cut. */
const ROW_GROUP_ROWS = 100_000;

/** The columns of a group's offline file: its features, then write_time, api_invocation_time and is_deleted. */
function offlineColumns(definitions: readonly FeatureDefinition[]): ColumnSpec[] {
  return [
    ...definitions.map((d) => ({
      name: d.FeatureName,
      type: PHYSICAL[d.FeatureType],
      ...(d.FeatureType === 'String' ? { convertedType: 'UTF8' as const } : {}),
      ...(d.CollectionType ? { list: true } : {}),
    })),
    { name: 'write_time', type: 'INT64', convertedType: 'TIMESTAMP_MILLIS' },
    { name: 'api_invocation_time', type: 'INT64', convertedType: 'TIMESTAMP_MILLIS' },
    { name: 'is_deleted', type: 'BOOLEAN' },
  ];
}

/**
 * One Parquet file of offline rows, typed as SageMaker's Glue table: String -> UTF8, Integral ->
 * INT64, Fractional -> DOUBLE, collections -> LIST, plus write_time and api_invocation_time
 * (timestamps) and is_deleted. Absent features are null. The records must be valid for the group
 * (callers check them once, when they partition the writes).
 */
export async function encodeOfflineParquet(group: GroupSchema, writes: readonly OfflineWrite[]): Promise<Uint8Array> {
  const definitions = group.featureDefinitions;
  const columnOf = new Map(definitions.map((d, i) => [d.FeatureName, i]));
  const file = new ParquetFileBuilder(offlineColumns(definitions), Math.min(writes.length, ROW_GROUP_ROWS));
  const writeTime = file.column(definitions.length);
  const invocationTime = file.column(definitions.length + 1);
  const deleted = file.column(definitions.length + 2);
  // A row's value per column, reused row after row.
  const row = new Array<FeatureValue | undefined>(definitions.length);
  for (let start = 0; start < writes.length; start += ROW_GROUP_ROWS) {
    const end = Math.min(writes.length, start + ROW_GROUP_ROWS);
    for (let w = start; w < end; w++) {
      const write = writes[w] as OfflineWrite;
      row.fill(undefined);
      const record = write.record;
      // Records the codec made list their features in definition order (absent ones skipped), so the
      // next definition is tried before the name lookup.
      let next = 0;
      for (let f = 0; f < record.length; f++) {
        const feature = record[f] as FeatureValue;
        const i = definitions[next]?.FeatureName === feature.FeatureName ? next : columnOf.get(feature.FeatureName);
        if (i === undefined) continue;
        next = i + 1;
        row[i] = feature;
      }
      for (let i = 0; i < definitions.length; i++) {
        const feature = row[i];
        const column = file.column(i);
        if (feature === undefined) column.null();
        else if ((definitions[i] as FeatureDefinition).CollectionType) column.list(feature.ValueAsStringList ?? []);
        else column.text(feature.ValueAsString ?? '');
      }
      writeTime.integer(write.writeTime.getTime());
      invocationTime.integer(write.apiInvocationTime.getTime());
      deleted.boolean(write.isDeleted);
    }
    file.endRowGroup(end - start);
  }
  return file.finish();
}

/** Reads an offline Parquet file back into rows (Integral as bigint, timestamps as Date); `file` and `group` name a damaged one. */
export async function decodeOfflineParquet(bytes: Uint8Array, file: string, group: string): Promise<OfflineStoredRow[]> {
  try {
    return (await readParquetRows(bytes)) as OfflineStoredRow[];
  } catch (cause) {
    throw offlineReadError(`reading ${file} of "${group}"`, cause, group);
  }
}

/** A failure reading the offline store's files (a damaged Parquet file, say), naming what was read. */
export function offlineReadError(what: string, cause: unknown, group?: string): BackendError {
  return new BackendError('READ_FAILED', `offline store: ${what} failed: ${firstLine(cause)}`, { cause, group });
}
