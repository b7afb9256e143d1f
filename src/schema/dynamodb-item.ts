// A record as a DynamoDB item: the SageMaker record's text, attribute by attribute, in the low-level
// AttributeValue form. `dynamoDbOnline` stores exactly this as an item's `features` map.
import { type Codec, decodeFailure, type SageMakerRecord } from './codec.js';
import type { FeatureDefinition } from './feature-spec.js';

/** A DynamoDB `AttributeValue` as the low-level client speaks it (numbers stay strings, so 64-bit ids are exact). */
export type DynamoDbAttributeValue =
  | { S: string }
  | { N: string }
  | { L: DynamoDbAttributeValue[] };

export type DynamoDbItem = Record<string, DynamoDbAttributeValue>;

/** The typed record <-> DynamoDB attribute values of one group. */
export interface DynamoDbItemCodec<T> {
  /**
   * Typed record -> attribute values: the record's text as `S` for String features and `N` for
   * Integral and Fractional ones (booleans are N 0/1), lists as `L`. Refuses what `toRecord` refuses.
   */
  toItem(record: T): DynamoDbItem;
  /** Attribute values -> typed record; attributes the group does not define are ignored. */
  fromItem(item: Readonly<Record<string, unknown>>): T;
}

/** N for Integral and Fractional features, S for String ones. */
function attributeType(definition: FeatureDefinition): 'S' | 'N' {
  return definition.FeatureType === 'String' ? 'S' : 'N';
}

/** SageMaker record -> attribute values; features without a definition are left out. */
export function recordToItem(definitions: readonly FeatureDefinition[], record: SageMakerRecord): DynamoDbItem {
  const byName = new Map(definitions.map((d) => [d.FeatureName, d]));
  const item: DynamoDbItem = {};
  for (const feature of record) {
    const definition = byName.get(feature.FeatureName);
    if (definition === undefined) continue;
    const type = attributeType(definition);
    const attribute = (text: string) => ({ [type]: text }) as DynamoDbAttributeValue;
    item[feature.FeatureName] = feature.ValueAsStringList ? { L: feature.ValueAsStringList.map(attribute) } : attribute(feature.ValueAsString ?? '');
  }
  return item;
}

/** Attribute values -> SageMaker record, in definition order; an attribute of the wrong shape is a DecodeError. */
export function itemToRecord(group: string, definitions: readonly FeatureDefinition[], item: Readonly<Record<string, unknown>>): SageMakerRecord {
  if (typeof item !== 'object' || item === null) throw decodeFailure(group, '(item)', item);
  const record: SageMakerRecord = [];
  for (const definition of definitions) {
    const name = definition.FeatureName;
    const attribute = item[name] as { L?: unknown; NULL?: boolean } | null | undefined;
    if (attribute === undefined || attribute?.NULL === true) continue;
    const text = (value: unknown): string => {
      const found = (value as Record<string, unknown> | null)?.[attributeType(definition)];
      if (typeof found !== 'string') throw decodeFailure(group, name, JSON.stringify(value));
      return found;
    };
    if (!definition.CollectionType) record.push({ FeatureName: name, ValueAsString: text(attribute) });
    else if (Array.isArray(attribute?.L)) record.push({ FeatureName: name, ValueAsStringList: attribute.L.map(text) });
    else throw decodeFailure(group, name, JSON.stringify(attribute));
  }
  return record;
}

/** The DynamoDB encoding over a group's record codec. */
export function createDynamoDbItemCodec<T>(group: string, definitions: readonly FeatureDefinition[], records: Codec<T>): DynamoDbItemCodec<T> {
  return {
    toItem: (record) => recordToItem(definitions, records.toRecord(record)),
    fromItem: (item) => records.fromRecord(itemToRecord(group, definitions, item)),
  };
}
