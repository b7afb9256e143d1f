// The encodings of a group's records other than the SageMaker record (which is `group.codec`): each is
// its own module, so a program carries only the formats it uses.
import { codecOptionsOf, requireGroup } from './feature-group.js';
import { createDynamoDbItemCodec, type DynamoDbItemCodec } from './schema/dynamodb-item.js';
import { createOfflineRowCodec, type OfflineRowCodec } from './schema/offline-row.js';
import type { AnyFeatureGroup, InferFeatures } from './schema/types.js';

const offlineCodecs = /* @__PURE__ */ new WeakMap<AnyFeatureGroup, OfflineRowCodec<unknown>>();
const dynamoDbCodecs = /* @__PURE__ */ new WeakMap<AnyFeatureGroup, DynamoDbItemCodec<unknown>>();

/**
 * The group's records as offline rows: one value per Glue/Parquet column, typed as the column is
 * (Integral as bigint, Fractional as double, dates as their stored text or epoch seconds).
 *
 * ### Example
 * ```ts
 * const rows = offlineRowCodec(cardActivity);
 * rows.fromRow(rows.toRow(record));   // deep-equals record
 * rows.columns;                       // [{ name: 'card_id', type: 'string' }, ...]
 * ```
 */
export function offlineRowCodec<G extends AnyFeatureGroup>(group: G): OfflineRowCodec<InferFeatures<G>> {
  requireGroup(group, 'offlineRowCodec');
  let codec = offlineCodecs.get(group);
  if (!codec) offlineCodecs.set(group, (codec = createOfflineRowCodec(codecOptionsOf(group), group.codec as never)));
  return codec as OfflineRowCodec<InferFeatures<G>>;
}

/**
 * The group's records as DynamoDB attribute values (low-level form): what `dynamoDbOnline` stores in
 * an item's `features` map.
 *
 * ### Example
 * ```ts
 * dynamoDbItemCodec(cardActivity).toItem(record);   // { card_id: { S: 'c1' }, amount: { N: '12.5' }, ... }
 * ```
 */
export function dynamoDbItemCodec<G extends AnyFeatureGroup>(group: G): DynamoDbItemCodec<InferFeatures<G>> {
  requireGroup(group, 'dynamoDbItemCodec');
  let codec = dynamoDbCodecs.get(group);
  if (!codec) dynamoDbCodecs.set(group, (codec = createDynamoDbItemCodec(group.name, group.featureDefinitions, group.codec as never)));
  return codec as DynamoDbItemCodec<InferFeatures<G>>;
}
