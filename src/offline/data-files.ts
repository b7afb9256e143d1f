import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataFileName, partialDataFileName } from './layout.js';

/**
 * Deletes the data files under a group's directory `dir` whose name `select` picks, and what killed
 * writes of those names left; how many data files. A group without files has none.
 */
export function removeDataFiles(dir: string, select: (fileName: string) => boolean): number {
  let files: string[];
  try {
    files = readdirSync(dir, { recursive: true }) as string[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const file of files) {
    const name = dataFileName(file);
    const picked = name ?? partialDataFileName(file);
    if (picked === undefined || !select(picked)) continue;
    rmSync(join(dir, file));
    if (name !== undefined) removed++;
  }
  return removed;
}
