/** SageMaker's pattern for feature group and feature names: 1-64 characters, alphanumerics joined by - or _. */
const NAME_PATTERN = /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/;
const MAX_NAME_LENGTH = 64;

/**
 * Feature names SageMaker adds to every offline row; a group may not define them.
 *
 * ### Example
 * ```ts
 * RESERVED_FEATURE_NAMES.includes('write_time');   // true: SageMaker adds it to offline rows
 * ```
 */
export const RESERVED_FEATURE_NAMES: readonly string[] = ['is_deleted', 'write_time', 'api_invocation_time'];

/**
 * The String feature that carries the group's fingerprint on every record when lineage is on.
 *
 * ### Example
 * ```ts
 * record.find((f) => f.FeatureName === FINGERPRINT_FEATURE)?.ValueAsString;
 * ```
 */
export const FINGERPRINT_FEATURE = 'skewless_fingerprint';

export function isValidName(name: string): boolean {
  return name.length >= 1 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export function isReservedName(name: string): boolean {
  // SageMaker compares reserved names without regard to case.
  return RESERVED_FEATURE_NAMES.includes(name.toLowerCase());
}
