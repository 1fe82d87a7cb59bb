/**
 * Files of the data dir that hold a credential or a secret (`endpoints.json` the local S3
 * credentials, `runtime.json` the control plane's URL, `local-api-key` the API key) are the
 * user's alone: mode 0600 whatever the umask, and the directories the runtime makes for them
 * 0700. On a shared machine, a file another user can read is a key another user holds.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * Writes `data` to `path`, readable and writable by the user only. A file of that name written
 * before (by an earlier version, or another mode) is replaced, not rewritten in place, so it
 * takes the new mode too; a reader sees the old file or the new one whole, never part of one.
 */
export async function writePrivateFile(path: string, data: string): Promise<void> {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    // A umask only takes permissions away: 0600 at creation stays 0600 under any.
    await writeFile(temporary, data, { flag: 'wx', mode: PRIVATE_FILE_MODE });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Makes `path` (and its missing parents) 0700; a directory that was there keeps its mode. */
export async function makePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
}

/** A private file kept from an earlier start: made the user's alone, if it was not. */
export async function keepPrivate(path: string): Promise<void> {
  await chmod(path, PRIVATE_FILE_MODE);
}
