import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { OfflineAppendOptions, OfflineStore, OfflineStoredRow, OfflineWrite } from '../store/types.js';
import { removeDataFiles, writeDataFile } from './data-files.js';
import { offlineDataPath, offlineFileName, writesByPartition } from './layout.js';
import { decodeOfflineParquet, encodeOfflineParquet } from './parquet.js';

/**
 * An offline store of Parquet files on a local disk, under `<dir>/<group>/data/` in hourly partitions, written with the
 * pure-JS Parquet writer: the same files `localOffline` (DuckDB) and `s3Offline` write, for places
 * where a native module must not run, such as worker threads that may be terminated mid-write.
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore({ online: memoryOnline(), offline: parquetDirOffline({ dir: 'out/offline' }) });
 * ```
 */
export function parquetDirOffline(options: { readonly dir: string }): OfflineStore {
  const base = options.dir;
  return {
    // A row is in its file once `append` resolves.
    availabilityDelay: '0s',
    async append(group: GroupSchema, writes: readonly OfflineWrite[], appendOptions: OfflineAppendOptions = {}) {
      const byPartition = writesByPartition(group, writes);
      for (const [partition, rows] of byPartition) {
        const dir = join(offlineDataPath(base, group.name), partition);
        mkdirSync(dir, { recursive: true });
        const name = appendOptions.fileName ? `${appendOptions.fileName}.parquet` : offlineFileName(new Date());
        const bytes = await encodeOfflineParquet(group, rows);
        await writeDataFile(dir, name, (partial) => writeFileSync(partial, bytes));
      }
    },
    async scan(group: GroupSchema): Promise<OfflineStoredRow[]> {
      const dir = offlineDataPath(base, group.name);
      let files: string[];
      try {
        files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet') && !f.split('/').pop()?.startsWith('.'));
      } catch {
        return [];
      }
      const rows: OfflineStoredRow[] = [];
      for (const file of files) rows.push(...(await decodeOfflineParquet(readFileSync(join(dir, file)), join(dir, file), group.name)));
      return rows;
    },
    async removeFiles(group, select) {
      return removeDataFiles(offlineDataPath(base, group.name), select);
    },
    async close() {},
  };
}
