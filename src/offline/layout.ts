import { randomBytes } from 'node:crypto';
import { FeatureValidationError } from '../errors.js';
import { checkRecord, type GroupSchema } from '../schema/sagemaker-record.js';
import type { OfflineWrite } from '../store/types.js';

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * SageMaker's Glue-format partition of a row: `year=YYYY/month=MM/day=DD/hour=HH` of its event time, UTC.
 *
 * ### Example
 * ```ts
 * partitionOf(Date.UTC(2024, 4, 1, 9));   // 'year=2024/month=05/day=01/hour=09'
 * ```
 */
export function partitionOf(eventTimeMs: number): string {
  const d = new Date(eventTimeMs);
  return `year=${String(d.getUTCFullYear()).padStart(4, '0')}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}`;
}

/** `<base>/<group>/data`: where a group's offline files live under a base path or S3 prefix. */
export function offlineDataPath(base: string, group: string): string {
  return `${base.replace(/\/+$/, '')}${base ? '/' : ''}${group}/data`;
}

/** A new data file name: the write time (sortable) and randomness, like SageMaker's own. */
export function offlineFileName(writeTime: Date): string {
  return `${writeTime.toISOString().replace(/[-:.]/g, '')}_${randomBytes(6).toString('hex')}.parquet`;
}

const MS_PER_HOUR = 3_600_000;

/** Offline writes grouped by the partition of their event time; a write that is not a valid record is refused. */
export function writesByPartition(group: GroupSchema, writes: readonly OfflineWrite[]): Map<string, OfflineWrite[]> {
  const byPartition = new Map<string, OfflineWrite[]>();
  // Writes of one hour share a partition: its name is built once per hour, not once per write.
  const byHour = new Map<number, OfflineWrite[]>();
  for (const write of writes) {
    const checked = checkRecord(group, write.record);
    if (!checked.ok) throw new FeatureValidationError(`group "${group.name}": ${checked.problem.message}`);
    const hour = Math.floor(checked.eventTimeMs / MS_PER_HOUR);
    let list = byHour.get(hour);
    if (!list) {
      const partition = partitionOf(checked.eventTimeMs);
      list = byPartition.get(partition) ?? [];
      byPartition.set(partition, list);
      byHour.set(hour, list);
    }
    list.push(write);
  }
  return byPartition;
}

/**
 * Where a data file is written before it is renamed to `name`: a dot-name that no `*.parquet` glob
 * matches, so a reader never sees half a file, nor one a crash left behind.
 */
export function partialFileName(name: string): string {
  return `.${name}.partial`;
}

/**
 * What earlier releases wrote a data file under until it was whole: `*.parquet` globs read it, so
 * a write killed midway left a file that broke every read. Removed where its data file is written.
 */
export function legacyPartialFileName(name: string): string {
  return `.${name}`;
}

/** The data file name (without `.parquet`) of a partial file a killed write left, either naming; undefined for anything else. */
export function partialDataFileName(path: string): string | undefined {
  return /^\.(.+)\.parquet(?:\.partial)?$/.exec(baseName(path))?.[1];
}

const baseName = (path: string) => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

/** A data file's name as `OfflineAppendOptions.fileName` gives it (without `.parquet`); undefined for anything else (a partial file, another file). */
export function dataFileName(path: string): string | undefined {
  const name = baseName(path);
  return name.endsWith('.parquet') && !name.startsWith('.') ? name.slice(0, -'.parquet'.length) : undefined;
}
