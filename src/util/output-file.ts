import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BackendError, ConfigurationError, firstLine } from '../errors.js';
import { describeValue } from './options.js';

/**
 * A file a long job writes at its end (a training set, an audit page), checked and its folder made
 * before the job starts, so the work is not lost to a missing folder. `where` names the option in
 * errors. A URL is refused (the file is local), and so is a path that is a folder.
 */
export function prepareOutputFile(path: string, where: string): void {
  if (isUrl(path)) {
    throw new ConfigurationError('INVALID_CONFIG', `${where}: expected a local file path, got the URL ${describeValue(path)} (write the file here, then copy it)`);
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (cause) {
    throw new ConfigurationError('INVALID_CONFIG', `${where}: cannot make the folder of ${path}: ${firstLine(cause)}`, { cause });
  }
  if (isFolder(path)) {
    throw new ConfigurationError('INVALID_CONFIG', `${where}: ${path} is a folder; give the file to write in it`);
  }
}

/**
 * A file's path through any symbolic link to its folder, so two spellings of one file compare equal;
 * the file itself need not exist yet (its folder, if it does not either, is taken as written).
 */
export function realFilePath(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return resolve(path);
  }
}

/** True for a URL (`s3://…`, `https://…`): a scheme, then `://`. */
export function isUrl(path: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(path);
}

/** True for a folder; anything else (no file, a name too long to look up) is left for the write to report. */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A failure writing such a file (a full disk, a file that cannot be replaced), naming it and what it holds. */
export function outputWriteError(what: string, path: string, cause: unknown): BackendError {
  return new BackendError('WRITE_FAILED', `cannot write ${what} to ${path}: ${firstLine(cause)}`, { cause });
}
