import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataFileName, legacyPartialFileName, partialDataFileName, partialFileName } from './layout.js';

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

/**
 * Writes the data file `name` in `dir` whole: `write` fills its partial file, a name no reader's glob
 * matches, which is then renamed (atomically replacing a file of that name), so a reader never sees
 * half a file, nor one a killed write left. What an earlier release's killed write left goes first.
 */
export async function writeDataFile(dir: string, name: string, write: (partial: string) => Promise<unknown> | void): Promise<void> {
  rmSync(join(dir, legacyPartialFileName(name)), { force: true });
  const partial = join(dir, partialFileName(name));
  await write(partial);
  renameSync(partial, join(dir, name));
}
