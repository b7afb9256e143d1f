import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataFileName } from './layout.js';

/** Deletes the data files under a group's directory `dir` whose name `select` picks; how many. A group without files has none. */
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
    if (name === undefined || !select(name)) continue;
    rmSync(join(dir, file));
    removed++;
  }
  return removed;
}
