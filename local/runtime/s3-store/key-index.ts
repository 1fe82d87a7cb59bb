/**
 * The keys of a bucket, held in memory in S3's order so the local S3 store lists without reading
 * the disk, and how they are read back from the objects' metadata files.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** An object's metadata file: its key and the headers it keeps. */
export interface StoredMetadata {
  readonly key: string;
  readonly metadata: Record<string, unknown>;
}

/** The name every file of an object starts with: the SHA-256 of its key. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/**
 * The keys of one bucket in S3's order (their UTF-8 bytes, which is not JavaScript's order of
 * UTF-16 code units for characters past U+FFFF), for listing without reading the disk.
 */
export class KeyIndex {
  readonly #keys: Array<{ readonly key: string; readonly bytes: Buffer }> = [];

  add(key: string): void {
    const bytes = utf8(key);
    const at = this.#lowerBound(bytes);
    if (this.#keys[at]?.key === key) return;
    this.#keys.splice(at, 0, { key, bytes });
  }

  remove(key: string): void {
    const at = this.#lowerBound(utf8(key));
    if (this.#keys[at]?.key === key) this.#keys.splice(at, 1);
  }

  /** The keys from the first one at or after `prefix` and after `startAfter`, in order. */
  *from(prefix: string, startAfter: string): Generator<string> {
    const prefixBytes = utf8(prefix);
    const afterBytes = utf8(startAfter);
    let at = Math.max(this.#lowerBound(prefixBytes), this.#lowerBound(afterBytes));
    if (this.#keys[at]?.key === startAfter) at++;
    // A snapshot of the entries: a write while the listing reads metadata does not shift it.
    for (const { key } of this.#keys.slice(at)) yield key;
  }

  /** The first position whose key is not before `bytes`. */
  #lowerBound(bytes: Buffer): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (Buffer.compare((this.#keys[middle] as { bytes: Buffer }).bytes, bytes) < 0) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }
}

/** The keys of a bucket's stored objects: each object file's key, from its metadata file. */
export async function loadIndex(objectsDirectory: string): Promise<KeyIndex> {
  const index = new KeyIndex();
  let names: string[];
  try {
    names = await readdir(objectsDirectory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return index;
    throw error;
  }
  const hashes = names.filter((name) => name.endsWith('.object')).map((name) => name.slice(0, -7));
  await Promise.all(
    hashes.map(async (hash) => {
      let stored: StoredMetadata;
      try {
        stored = JSON.parse(
          await readFile(join(objectsDirectory, `${hash}.metadata.json`), 'utf8'),
        ) as StoredMetadata;
      } catch (error) {
        // Deleted meanwhile, or not this store's file (metadata is written whole, by a rename).
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) {
          return;
        }
        throw error;
      }
      // Only a file named by its own key's hash is that key's object.
      if (typeof stored.key === 'string' && keyHash(stored.key) === hash) index.add(stored.key);
    }),
  );
  return index;
}
