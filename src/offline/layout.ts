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

/** A data file's name as `OfflineAppendOptions.fileName` gives it (without `.parquet`); undefined for anything else (a partial `.name`, another file). */
export function dataFileName(path: string): string | undefined {
  const name = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  return name.endsWith('.parquet') && !name.startsWith('.') ? name.slice(0, -'.parquet'.length) : undefined;
}
