/**
 * How the local S3 store writes a file: whole and durable, or not at all. Every write goes to a
 * temporary file beside its target, is fsynced and closed, and is renamed over the target; the
 * directory is then fsynced, so the rename itself survives a lost machine, not only a killed
 * process (docs/decisions.md, D31). A reader sees the old file or the new one, never a part.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Every temporary file this store makes ends so; no name s3rver gives a file does. */
const PARTIAL = /\.partial-[0-9a-f]{16}$/;

/** A file written in full beside its target, synced, not yet in place. */
export interface WrittenFile {
  readonly path: string;
  readonly size: number;
  readonly md5: string;
}

export function temporaryPath(path: string): string {
  return `${path}.partial-${randomBytes(8).toString('hex')}`;
}

/** Flushes a file's data, or a directory's entries, to the disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Puts a synced temporary file in place, and makes the new name itself durable. */
export async function renameDurably(temporary: string, path: string): Promise<void> {
  await rename(temporary, path);
  await syncPath(dirname(path));
}

/**
 * Streams the body into a new temporary file beside `path`, hashing it on the way, and resolves
 * once the file is synced and closed. On any failure (the client went away, the disk is full) the
 * file is removed and the error passed on.
 */
export async function writeTemporary(
  path: string,
  content: Readable | Buffer,
  decoder?: Transform,
): Promise<WrittenFile> {
  const temporary = temporaryPath(path);
  const hash = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
  async function* hashing(chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  // `pipeline` resolves once this stream has closed its file, not merely ended. Chunks that
  // arrive during a write go out together in the next `writev`; the default buffer is kept
  // (docs/decisions.md, D18).
  const file = createWriteStream(temporary, { flags: 'wx' });
  try {
    // One pipeline either way, so a client that goes away mid-body fails the write.
    await (decoder ? pipeline(source, decoder, hashing, file) : pipeline(source, hashing, file));
    await syncPath(temporary);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { path: temporary, size, md5: hash.digest('hex') };
}

/** A synced copy of `source` in a new temporary file beside `path`. */
export async function copyTemporary(source: string, path: string): Promise<string> {
  const temporary = temporaryPath(path);
  try {
    await copyFile(source, temporary);
    await syncPath(temporary);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return temporary;
}

/** Replaces the file at `path` with `data`, durably: a reader sees the old text or the new. */
export async function writeAtomically(path: string, data: string): Promise<void> {
  const temporary = temporaryPath(path);
  try {
    await writeFile(temporary, data, { flag: 'wx' });
    await syncPath(temporary);
    await renameDurably(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function md5Of(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Removes the temporary files of writes a killed process never finished. Only for a directory no
 * running server writes to (before the server starts).
 */
export async function sweepPartialWrites(directory: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const partial = names.filter((name) => PARTIAL.test(name));
  await Promise.all(partial.map((name) => rm(join(directory, name), { force: true })));
  return partial.length;
}
