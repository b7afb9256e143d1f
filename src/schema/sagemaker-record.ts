import { type FeatureValue, MAX_RECORD_BYTES, MAX_RECORD_IDENTIFIER_BYTES, MAX_VALUE_BYTES, recordBytes, type SageMakerRecord } from './codec.js';
import { isTimeInRange, parseIsoInstant } from './time.js';
import type { FeatureDefinition } from './feature-spec.js';

/**
 * What a backend needs to know about a group to store its records: the shape CreateFeatureGroup
 * takes. A `FeatureGroup` has it; so does a group the local stack learned from CreateFeatureGroup.
 */
export interface GroupSchema {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly featureDefinitions: readonly FeatureDefinition[];
}

const INTEGRAL = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function valueFits(type: FeatureDefinition['FeatureType'], text: string): boolean {
  switch (type) {
    case 'String':
      return true;
    case 'Integral': {
      if (!INTEGRAL.test(text)) return false;
      // Up to 18 digits always fits in signed 64-bit; only longer ones need the exact check.
      if (text.length <= 18) return true;
      const n = BigInt(text);
      return n >= INT64_MIN && n <= INT64_MAX;
    }
    case 'Fractional':
      return text.trim() !== '' && Number.isFinite(Number(text));
  }
}

/**
 * The String event times SageMaker accepts: `yyyy-MM-dd'T'HH:mm:ssZ` and `yyyy-MM-dd'T'HH:mm:ss.SSSZ`,
 * UTC (CreateFeatureGroup's EventTimeFeatureName, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFeatureGroup.html).
 */
const SAGEMAKER_EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** Every UTF-16 unit is at most 3 UTF-8 bytes, so text this short cannot break a byte limit. */
function overBytes(text: string, limit: number): boolean {
  return text.length * 3 > limit && Buffer.byteLength(text, 'utf8') > limit;
}

/** The SageMaker type of a group's event time feature: String (ISO-8601) or Fractional (epoch seconds). */
export function eventTimeTypeOf(group: GroupSchema): FeatureDefinition['FeatureType'] {
  return group.featureDefinitions.find((d) => d.FeatureName === group.eventTime)?.FeatureType ?? 'String';
}

export function parseEventTime(type: FeatureDefinition['FeatureType'], text: string): number | undefined {
  let ms: number | undefined;
  if (type === 'Fractional') {
    const seconds = text.trim() === '' ? Number.NaN : Number(text);
    ms = Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
  } else if (type === 'String' && SAGEMAKER_EVENT_TIME.test(text)) {
    ms = parseIsoInstant(text);
  }
  return ms !== undefined && isTimeInRange(ms) ? ms : undefined;
}

/** One problem with a record, in the words SageMaker's ValidationError would use. */
export interface RecordProblem {
  readonly feature: string | undefined;
  readonly message: string;
}

/** A record checked against its group: its identifier, its event time, or what is wrong with it. */
export type CheckedRecord =
  | { readonly ok: true; readonly id: string; readonly eventTimeMs: number; readonly eventTime: string }
  | { readonly ok: false; readonly problem: RecordProblem };

/**
 * Checks a record as SageMaker's PutRecord does: every feature known and of its type, the record
 * identifier and event time present, the event time readable.
 */
/** Per group: its definitions by name, and the last check each name was seen in (to catch repeats without a Set per record). */
interface Lookup {
  readonly definitions: Map<string, FeatureDefinition>;
  readonly lastSeen: Map<string, number>;
  check: number;
}
const lookups = new WeakMap<GroupSchema, Lookup>();

function lookupOf(group: GroupSchema): Lookup {
  let lookup = lookups.get(group);
  if (!lookup) {
    lookup = { definitions: new Map(group.featureDefinitions.map((d) => [d.FeatureName, d])), lastSeen: new Map(), check: 0 };
    lookups.set(group, lookup);
  }
  return lookup;
}

export function checkRecord(group: GroupSchema, record: readonly FeatureValue[]): CheckedRecord {
  const lookup = lookupOf(group);
  const { definitions, lastSeen } = lookup;
  const check = ++lookup.check;
  let id: string | undefined;
  let eventTime: string | undefined;
  let units = 0;
  for (const feature of record) {
    const name = feature.FeatureName;
    const definition = definitions.get(name);
    if (definition === undefined) return fail(name, `feature ${name} is not defined in feature group ${group.name}`);
    if (lastSeen.get(name) === check) return fail(name, `feature ${name} appears more than once`);
    lastSeen.set(name, check);
    if (definition.CollectionType !== undefined) {
      if (feature.ValueAsStringList === undefined) return fail(name, `feature ${name} needs ValueAsStringList`);
      const bad = feature.ValueAsStringList.find((v) => !valueFits(definition.FeatureType, v));
      if (bad !== undefined) return fail(name, `value ${JSON.stringify(bad)} of feature ${name} is not ${definition.FeatureType}`);
      for (const v of feature.ValueAsStringList) units += v.length;
    } else {
      const text = feature.ValueAsString;
      if (text === undefined) return fail(name, `feature ${name} needs ValueAsString`);
      if (!valueFits(definition.FeatureType, text)) return fail(name, `value ${JSON.stringify(text)} of feature ${name} is not ${definition.FeatureType}`);
      if (overBytes(text, MAX_VALUE_BYTES)) return fail(name, `value of feature ${name} is over ${MAX_VALUE_BYTES} bytes, the most a feature value may be`);
      units += text.length;
    }
    units += name.length;
    if (name === group.recordIdentifier) id = feature.ValueAsString;
    if (name === group.eventTime) eventTime = feature.ValueAsString;
  }
  if (id === undefined || id === '') return fail(group.recordIdentifier, `record identifier ${group.recordIdentifier} is missing`);
  if (overBytes(id, MAX_RECORD_IDENTIFIER_BYTES)) return fail(group.recordIdentifier, `record identifier is over ${MAX_RECORD_IDENTIFIER_BYTES} bytes, the most SageMaker allows`);
  if (units * 3 > MAX_RECORD_BYTES && recordBytes(record) > MAX_RECORD_BYTES) return fail(undefined, `record is over ${MAX_RECORD_BYTES} bytes, the most SageMaker allows`);
  if (eventTime === undefined) return fail(group.eventTime, `event time ${group.eventTime} is missing`);
  const type = definitions.get(group.eventTime)?.FeatureType ?? 'String';
  const eventTimeMs = parseEventTime(type, eventTime);
  if (eventTimeMs === undefined) {
    return fail(
      group.eventTime,
      `event time ${JSON.stringify(eventTime)} is not a valid ${type === 'String' ? "time: SageMaker takes yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ (UTC)" : 'epoch seconds value'} between 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z`,
    );
  }
  return { ok: true, id, eventTimeMs, eventTime };
}

function fail(feature: string | undefined, message: string): CheckedRecord {
  return { ok: false, problem: { feature, message } };
}

/** Keeps only the named features (the record identifier and event time are not added back). */
export function pickFeatures(record: SageMakerRecord, names: readonly string[] | undefined): SageMakerRecord {
  if (names === undefined || names.length === 0) return record;
  const wanted = new Set(names);
  return record.filter((f) => wanted.has(f.FeatureName));
}

/** Feature names and values in turn, a value being its text or a copy of its list: a store's own copy of a record. */
export type StoredRecord = readonly (string | readonly string[])[];

/**
 * A record as the in-process stores keep it: their own copy, as a remote backend holds one, so
 * changing the written objects afterwards changes nothing stored. One flat array per record also
 * keeps the garbage collector's work small: a record's dozen value objects kept alive until the
 * store is dropped cost the handler benchmark about a third of its throughput.
 */
export function storedForm(record: SageMakerRecord): StoredRecord {
  const stored = new Array<string | readonly string[]>(record.length * 2);
  for (let i = 0; i < record.length; i++) {
    const feature = record[i] as SageMakerRecord[number];
    stored[2 * i] = feature.FeatureName;
    stored[2 * i + 1] = feature.ValueAsString ?? [...(feature.ValueAsStringList ?? [])];
  }
  return stored;
}

/** A fresh record from a stored copy: every feature, or only `names` when given (and not empty). */
export function recordOf(stored: StoredRecord, names?: readonly string[]): SageMakerRecord {
  const wanted = names === undefined || names.length === 0 ? undefined : new Set(names);
  const record: SageMakerRecord = [];
  for (let i = 0; i < stored.length; i += 2) {
    const name = stored[i] as string;
    if (wanted && !wanted.has(name)) continue;
    const value = stored[i + 1] as string | readonly string[];
    record.push(typeof value === 'string' ? { FeatureName: name, ValueAsString: value } : { FeatureName: name, ValueAsStringList: [...value] });
  }
  return record;
}

/** SageMaker's TtlDuration. */
export interface TtlDuration {
  readonly Unit: 'Seconds' | 'Minutes' | 'Hours' | 'Days' | 'Weeks';
  readonly Value: number;
}

const TTL_UNIT_MS: Record<TtlDuration['Unit'], number> = {
  Seconds: 1000,
  Minutes: 60_000,
  Hours: 3_600_000,
  Days: 86_400_000,
  Weeks: 604_800_000,
};

/** Why a TtlDuration is not one SageMaker takes (Unit one of its five, Value a whole number from 1), or undefined. */
export function ttlProblem(ttl: unknown): string | undefined {
  const given = ttl as Partial<TtlDuration> | null;
  if (typeof given !== 'object' || given === null) return 'TtlDuration must be { Unit, Value }';
  if (typeof given.Unit !== 'string' || !(given.Unit in TTL_UNIT_MS)) return `TtlDuration.Unit must be one of ${Object.keys(TTL_UNIT_MS).join(', ')}, got ${JSON.stringify(given.Unit)}`;
  if (!Number.isInteger(given.Value) || (given.Value as number) < 1) return `TtlDuration.Value must be a whole number of at least 1, got ${JSON.stringify(given.Value)}`;
  return undefined;
}

/** A TtlDuration in milliseconds; undefined for none (or one SageMaker would refuse). */
export function ttlMs(ttl: TtlDuration | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  const unit = TTL_UNIT_MS[ttl.Unit];
  if (unit === undefined || !Number.isFinite(ttl.Value) || ttl.Value < 1) return undefined;
  return ttl.Value * unit;
}

/**
 * When a record written with this TTL expires: SageMaker counts TTL from the record's event time,
 * and the record is gone from the instant `ExpiresAt` is reached (live only while now < ExpiresAt).
 */
export function expiresAtMs(eventTimeMs: number, ttl: TtlDuration | undefined): number | undefined {
  const duration = ttlMs(ttl);
  return duration === undefined ? undefined : eventTimeMs + duration;
}

/**
 * Records as an outbox keeps them: the feature names once, then per record each feature's value in
 * that order (null when absent). The names travel with the values, so records packed by one
 * deployment unpack right in the next even if it reorders, adds or removes features.
 */
export interface PackedRecords {
  readonly features: readonly string[];
  readonly records: readonly (readonly (string | readonly string[] | null)[])[];
}

/**
 * Records in a compact JSON-ready form, each feature's name written once (a DynamoDB item has 400 KB
 * for a state and its outbox, and a name per value would take half of it).
 */
export function packRecords(group: GroupSchema, records: readonly SageMakerRecord[]): PackedRecords {
  const features = group.featureDefinitions.map((d) => d.FeatureName);
  const order = new Map(features.map((name, i) => [name, i]));
  return {
    features,
    records: records.map((record) => {
      const values = new Array<string | readonly string[] | null>(order.size).fill(null);
      for (const feature of record) {
        const at = order.get(feature.FeatureName);
        if (at !== undefined) values[at] = feature.ValueAsString ?? [...(feature.ValueAsStringList ?? [])];
      }
      return values;
    }),
  };
}

/** The records `packRecords` packed, by name: a feature the group no longer defines is left out. */
export function unpackRecords(group: GroupSchema, packed: PackedRecords): SageMakerRecord[] {
  const { definitions } = lookupOf(group);
  return packed.records.map((values) => {
    const record: SageMakerRecord = [];
    values.forEach((value, i) => {
      const FeatureName = packed.features[i];
      if (value === null || value === undefined || FeatureName === undefined || !definitions.has(FeatureName)) return;
      record.push(typeof value === 'string' ? { FeatureName, ValueAsString: value } : { FeatureName, ValueAsStringList: [...value] });
    });
    return record;
  });
}
