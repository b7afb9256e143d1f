import { optionalModule } from '../util/optional-module.js';
import type { FeatureValue } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/types.js';
import type { OfflineStoredRow, OfflineWrite } from '../store/types.js';

type Writer = typeof import('hyparquet-writer');
type Reader = typeof import('hyparquet');

// Pure-JS Parquet (no native code), so offline files can be written inside Lambda.
export const loadParquetWriter = /* @__PURE__ */ optionalModule<Writer>(() => import('hyparquet-writer'), 'writing offline Parquet', 'hyparquet-writer');
const loadReader = /* @__PURE__ */ optionalModule<Reader>(() => import('hyparquet'), 'reading offline Parquet', 'hyparquet');

const PRIMITIVE: Record<FeatureDefinition['FeatureType'], { type: 'BYTE_ARRAY' | 'INT64' | 'DOUBLE'; converted_type?: 'UTF8' }> = {
  String: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  Integral: { type: 'INT64' },
  Fractional: { type: 'DOUBLE' },
};

function typed(type: FeatureDefinition['FeatureType'], text: string): string | number | bigint {
  if (type === 'Integral') return BigInt(text);
  if (type === 'Fractional') return Number(text);
  return text;
}

/**
 * One Parquet file of offline rows, typed as SageMaker's Glue table: String -> UTF8, Integral ->
 * INT64, Fractional -> DOUBLE, collections -> LIST, plus write_time and api_invocation_time
 * (timestamps) and is_deleted. Absent features are null. The records must be valid for the group
 * (callers check them once, when they partition the writes).
 */
export async function encodeOfflineParquet(group: GroupSchema, writes: readonly OfflineWrite[]): Promise<Uint8Array> {
  const { parquetWriteBuffer } = await loadParquetWriter();
  const definitions = group.featureDefinitions;
  const columnOf = new Map(definitions.map((d, i) => [d.FeatureName, i]));
  const columns = definitions.map(() => new Array<unknown>(writes.length).fill(null));
  for (let row = 0; row < writes.length; row++) {
    const record = (writes[row] as OfflineWrite).record;
    // Records the codec made list their features in definition order (absent ones skipped), so the
    // next definition is tried before the name lookup.
    let next = 0;
    for (let f = 0; f < record.length; f++) {
      const feature = record[f] as FeatureValue;
      const i = definitions[next]?.FeatureName === feature.FeatureName ? next : columnOf.get(feature.FeatureName);
      if (i === undefined) continue;
      next = i + 1;
      const d = definitions[i] as FeatureDefinition;
      (columns[i] as unknown[])[row] = d.CollectionType
        ? (feature.ValueAsStringList ?? []).map((v) => typed(d.FeatureType, v))
        : typed(d.FeatureType, feature.ValueAsString ?? '');
    }
  }
  const schema: Record<string, unknown>[] = [{ name: 'root', num_children: definitions.length + 3 }];
  for (const d of definitions) {
    if (d.CollectionType) {
      schema.push({ name: d.FeatureName, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', repetition_type: 'OPTIONAL', ...PRIMITIVE[d.FeatureType] });
    } else {
      schema.push({ name: d.FeatureName, repetition_type: 'OPTIONAL', ...PRIMITIVE[d.FeatureType] });
    }
  }
  schema.push(
    { name: 'write_time', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    { name: 'api_invocation_time', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    { name: 'is_deleted', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
  );
  const buffer = parquetWriteBuffer({
    columnData: [
      ...definitions.map((d, i) => ({ name: d.FeatureName, data: columns[i] as unknown[] })),
      { name: 'write_time', data: writes.map((w) => w.writeTime) },
      { name: 'api_invocation_time', data: writes.map((w) => w.apiInvocationTime) },
      { name: 'is_deleted', data: writes.map((w) => w.isDeleted) },
    ] as never,
    schema: schema as never,
  });
  return new Uint8Array(buffer);
}

/** Reads an offline Parquet file back into rows (Integral as bigint, timestamps as Date). */
export async function decodeOfflineParquet(bytes: Uint8Array): Promise<OfflineStoredRow[]> {
  const { parquetReadObjects } = await loadReader();
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as OfflineStoredRow[];
}
