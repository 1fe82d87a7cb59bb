/**
 * The local S3 server's store: s3rver's filesystem store, with object keys kept as names and
 * every object written so that an answered PUT is already whole on disk and a write cut short
 * leaves nothing behind.
 *
 * Keys are names, never paths. s3rver's own store makes each key a path under the bucket's
 * directory, so `../` in a key writes outside it, a key longer than a file name cannot be stored,
 * and `a` and `a/b` fight over one name as file and directory. Here every file of an object is
 * named by the SHA-256 of its key (`<bucket>/._S3rver_objects/<hex>.object`, `.object.md5`,
 * `.metadata.json`, `.tagging.xml`), the key itself is kept in the metadata file, and the keys of a
 * bucket are held in memory in S3's order (UTF-8 bytes) for listing, read back from the metadata
 * files when the bucket is first used. No part of a key reaches a path; a bucket name does only
 * once it is a valid one (docs/decisions.md, D28).
 *
 * Writes are atomic. s3rver's own `putObject` opens the object file in place (truncating what was
 * there) and resolves once the body has passed through its MD5 transform, before its write stream
 * has reached the file; s3rver then answers 200. A process killed in between keeps an object the
 * client was told was stored, empty or short. Here the body is hashed as it streams into a
 * temporary file beside the object; once that file is flushed and closed, the metadata is
 * written, and only then is the file renamed over the object, which is the moment it exists for a
 * reader. s3rver answers after this store returns.
 *
 * Not fsynced: a killed process loses nothing the kernel has accepted (the page cache belongs to
 * the kernel, not to the process), and the rename is atomic for every other process. Surviving
 * a power loss or kernel crash would need an fsync of each file and of its directory, which is
 * also more than the local DynamoDB server (LevelDB, unsynced writes) promises; the local runtime
 * promises to survive a killed process, not a lost machine (docs/local-runtime.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3Error from 's3rver/lib/models/error.js';
import S3Object from 's3rver/lib/models/object.js';
import FilesystemStore, { type StoredObject } from 's3rver/lib/stores/filesystem.js';
import {
  AwsChunkedDecoder,
  AwsChunkedError,
  type AwsChunkedUpload,
  awsChunkedUpload,
} from './aws-chunked.ts';

/** Every temporary file this store makes ends so; no name s3rver gives a file does. */
const PARTIAL = /\.partial-[0-9a-f]{16}$/;
/** A bucket's objects, each named by the SHA-256 of its key. */
const OBJECTS_DIRECTORY = '._S3rver_objects';
/** A bucket's multipart uploads in progress (s3rver's own name). */
const UPLOADS_DIRECTORY = '._S3rver_uploads';
/** In the store's directory once its objects are laid out by key hash (see `migrateLegacyLayout`). */
const LAYOUT_MARKER = '.layout';
const LAYOUT = 'objects named by the SHA-256 of their key\n';
/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** s3rver names an upload by 16 random bytes in hex. */
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const MAX_PART_NUMBER = 10_000;

/** What `listObjects` answers: s3rver's shape, plus the page's last entry for a continuation. */
export interface ObjectListing {
  readonly objects: S3Object[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  /** The greatest key or common prefix of the page: a next page starts after it. */
  readonly lastEntry: string | undefined;
}

export class AtomicFilesystemStore extends FilesystemStore {
  /** The keys of each bucket, loaded on first use. */
  readonly #indexes = new Map<string, Promise<KeyIndex>>();

  override getBucketPath(bucket: string): string {
    if (!BUCKET_NAME.test(bucket)) {
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', {
        BucketName: bucket,
      });
    }
    return join(this.rootDirectory, bucket);
  }

  override async getBucket(bucket: string) {
    // A name that is not a bucket's (`..`, `.`) names no bucket, whatever is on disk.
    return BUCKET_NAME.test(bucket) ? super.getBucket(bucket) : null;
  }

  /**
   * Where a resource lives: a bucket's own (`key` empty: its CORS or website configuration, its
   * uploads) beside its objects, an object's under the SHA-256 of its key.
   */
  override getResourcePath(bucket: string, key: string | undefined, resource: string): string {
    const bucketPath = this.getBucketPath(bucket);
    if (key === undefined || key === '') return join(bucketPath, `._S3rver_${resource}`);
    return join(bucketPath, OBJECTS_DIRECTORY, `${keyHash(key)}.${resource}`);
  }

  override async getMetadata(bucket: string, key: string): Promise<Record<string, unknown>> {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    // Expected to throw ENOENT when there is no such object (s3rver reads that as none).
    const stats = await stat(objectPath);
    const [stored, md5] = await Promise.all([
      this.#readMetadata(bucket, key),
      readFile(`${objectPath}.md5`, 'utf8').catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        // An object written before its `.md5` (or moved here without one): hash it now.
        const md5 = await md5Of(objectPath);
        await writeAtomically(`${objectPath}.md5`, md5);
        return md5;
      }),
    ]);
    return {
      ...stored?.metadata,
      etag: JSON.stringify(md5),
      'last-modified': stats.mtime.toUTCString(),
      'content-length': stats.size,
    };
  }

  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, unknown>,
    md5?: string,
  ): Promise<void> {
    if (md5) await writeAtomically(this.getResourcePath(bucket, key, 'object.md5'), md5);
    const stored: StoredMetadata = { key, metadata: storedMetadata(metadata) };
    await writeAtomically(
      this.getResourcePath(bucket, key, 'metadata.json'),
      JSON.stringify(stored, null, 2),
    );
  }

  override async putObject(object: StoredObject): Promise<{ size: number; md5: string }> {
    checkKey(object.key);
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    // A streamed upload with a checksum (the SDKs' default) comes aws-chunked: the object is its
    // decoded bytes, and its Content-Encoding loses `aws-chunked`, as on S3.
    const chunked = awsChunkedUpload(requestHeaders(object));
    const written = await writeTemporary(
      objectPath,
      object.content,
      chunked && new AwsChunkedDecoder(chunked),
    );
    const metadata = chunked ? withoutAwsChunked(object.metadata, chunked) : object.metadata;
    try {
      await this.#commit(object.bucket, object.key, written, metadata);
    } catch (error) {
      await rm(written.path, { force: true });
      throw error;
    }
    return { size: written.size, md5: written.md5 };
  }

  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    checkKey(destKey);
    const source = this.getResourcePath(srcBucket, srcKey, 'object');
    const destination = this.getResourcePath(destBucket, destKey, 'object');
    if (source === destination) {
      if (replacementMetadata) await this.putMetadata(destBucket, destKey, replacementMetadata);
      return this.getMetadata(destBucket, destKey);
    }
    const sourceMetadata = await this.getMetadata(srcBucket, srcKey);
    await mkdir(dirname(destination), { recursive: true });
    const path = temporaryPath(destination);
    await copyFile(source, path);
    const written = {
      path,
      size: Number(sourceMetadata['content-length']),
      md5: JSON.parse(String(sourceMetadata.etag)) as string,
    };
    try {
      await this.#commit(destBucket, destKey, written, replacementMetadata ?? sourceMetadata);
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return this.getMetadata(destBucket, destKey);
  }

  /** The object goes first: from then on it does not exist for a reader, then the rest goes. */
  override async deleteObject(bucket: string, key: string): Promise<void> {
    await rm(this.getResourcePath(bucket, key, 'object'), { force: true });
    (await this.#index(bucket)).remove(key);
    await Promise.all(
      ['object.md5', 'metadata.json', 'tagging.xml'].map((resource) =>
        rm(this.getResourcePath(bucket, key, resource), { force: true }),
      ),
    );
  }

  override async deleteBucket(bucket: string): Promise<void> {
    await super.deleteBucket(bucket);
    this.#indexes.delete(bucket);
  }

  override reset(): void {
    super.reset();
    this.#indexes.clear();
  }

  /**
   * S3's listing: keys in UTF-8 byte order after `startAfter` and under `prefix`; with a
   * delimiter, the keys whose rest holds it are rolled up into one common prefix each. Keys and
   * prefixes together count towards `maxKeys`, and an entry (key or prefix) not after `startAfter`
   * is not listed, so a listing that starts after a page's last entry continues it exactly.
   */
  override async listObjects(
    bucket: string,
    options: {
      readonly delimiter?: string;
      readonly startAfter?: string;
      readonly prefix?: string;
      readonly maxKeys?: number;
    },
  ): Promise<ObjectListing> {
    const {
      delimiter = '',
      startAfter = '',
      prefix = '',
      maxKeys = Number.POSITIVE_INFINITY,
    } = options;
    const index = await this.#index(bucket);
    const after = utf8(startAfter);
    const keys: string[] = [];
    const commonPrefixes: string[] = [];
    let lastEntry: string | undefined;
    let isTruncated = false;
    for (const key of index.from(prefix, startAfter)) {
      if (!key.startsWith(prefix)) break;
      const rest = key.slice(prefix.length);
      const cut = delimiter === '' ? -1 : rest.indexOf(delimiter);
      const entry = cut === -1 ? key : key.slice(0, prefix.length + cut + delimiter.length);
      if (entry === lastEntry || Buffer.compare(utf8(entry), after) <= 0) continue;
      if (keys.length + commonPrefixes.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      (cut === -1 ? keys : commonPrefixes).push(entry);
      lastEntry = entry;
    }
    const listed = await Promise.all(
      keys.map(async (key) => {
        try {
          return new S3Object(bucket, key, null, await this.getMetadata(bucket, key));
        } catch (error) {
          // Deleted since it was listed.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      }),
    );
    return {
      objects: listed.filter((object): object is S3Object => object !== undefined),
      commonPrefixes,
      isTruncated,
      lastEntry,
    };
  }

  override async initiateUpload(
    bucket: string,
    key: string,
    uploadId: string,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    checkKey(key);
    await super.initiateUpload(bucket, key, uploadId, metadata);
  }

  override async putPart(
    bucket: string,
    uploadId: string,
    partNumber: number | string,
    content: Readable,
  ): Promise<{ size: number; md5: string }> {
    const uploadDirectory = await this.#upload(bucket, uploadId);
    const number = Number(partNumber);
    if (!Number.isInteger(number) || number < 1 || number > MAX_PART_NUMBER) {
      throw new S3Error(
        'InvalidArgument',
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
        { ArgumentName: 'partNumber', ArgumentValue: String(partNumber) },
      );
    }
    const partPath = join(uploadDirectory, String(number));
    const written = await writeTemporary(partPath, content);
    await rename(written.path, partPath);
    await writeAtomically(`${partPath}.md5`, written.md5);
    return { size: written.size, md5: written.md5 };
  }

  override async putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: ReadonlyArray<{ readonly number: number; readonly etag: string }>,
  ): Promise<{ size: number; md5: string }> {
    const uploadDirectory = await this.#upload(bucket, uploadId);
    for (const part of parts) {
      const stored =
        Number.isInteger(part.number) && part.number >= 1 && part.number <= MAX_PART_NUMBER
          ? await stat(join(uploadDirectory, String(part.number))).catch(() => undefined)
          : undefined;
      if (!stored?.isFile()) {
        throw new S3Error(
          'InvalidPart',
          'One or more of the specified parts could not be found. The part may not have been ' +
            "uploaded, or the specified entity tag may not match the part's entity tag.",
          { PartNumber: String(part.number), ETag: part.etag },
        );
      }
    }
    return super.putObjectMultipart(bucket, uploadId, parts);
  }

  /** The directory of an upload in progress; `NoSuchUpload` for an id s3rver never gave. */
  async #upload(bucket: string, uploadId: string): Promise<string> {
    const directory = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    const found = UPLOAD_ID.test(uploadId)
      ? await stat(directory).catch(() => undefined)
      : undefined;
    if (!found?.isDirectory()) {
      throw new S3Error(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may ' +
          'have been aborted or completed.',
        { UploadId: uploadId },
      );
    }
    return directory;
  }

  /**
   * Puts a fully written temporary file in place as the object. The metadata goes first (it is
   * not read without the object), a stale `.md5` is removed before the rename (without one, the
   * object is hashed when it is next read), and the new `.md5` follows it, so no moment pairs an
   * object with another object's ETag.
   */
  async #commit(
    bucket: string,
    key: string,
    written: { readonly path: string; readonly md5: string },
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const md5Path = this.getResourcePath(bucket, key, 'object.md5');
    await this.putMetadata(bucket, key, metadata);
    await rm(md5Path, { force: true });
    await rename(written.path, this.getResourcePath(bucket, key, 'object'));
    await writeAtomically(md5Path, written.md5);
    (await this.#index(bucket)).add(key);
  }

  async #readMetadata(bucket: string, key: string): Promise<StoredMetadata | undefined> {
    try {
      return JSON.parse(
        await readFile(this.getResourcePath(bucket, key, 'metadata.json'), 'utf8'),
      ) as StoredMetadata;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  #index(bucket: string): Promise<KeyIndex> {
    let index = this.#indexes.get(bucket);
    if (index === undefined) {
      index = loadIndex(join(this.getBucketPath(bucket), OBJECTS_DIRECTORY));
      this.#indexes.set(bucket, index);
      index.catch(() => this.#indexes.delete(bucket));
    }
    return index;
  }
}

/** An object's metadata file: its key and the headers it keeps. */
interface StoredMetadata {
  readonly key: string;
  readonly metadata: Record<string, unknown>;
}

/**
 * The keys of one bucket in S3's order (their UTF-8 bytes, which is not JavaScript's order of
 * UTF-16 code units for characters past U+FFFF), for listing without reading the disk.
 */
class KeyIndex {
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
async function loadIndex(objectsDirectory: string): Promise<KeyIndex> {
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

function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** S3 refuses a key longer than 1,024 bytes of UTF-8 (an empty one never reaches the store). */
function checkKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', {
      MaxSizeAllowed: String(MAX_KEY_BYTES),
      Size: String(Buffer.byteLength(key, 'utf8')),
    });
  }
}

async function md5Of(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What s3rver keeps of an object's headers (as its own `putMetadata` does). */
function storedMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(metadata).filter(
      ([name]) => STORED_HEADERS.has(name) || name.startsWith('x-amz-meta-'),
    ),
  );
}

const STORED_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
]);

/**
 * The PUT's own headers: s3rver hands the request itself over as the content, and keeps only the
 * headers an object stores as its metadata (not `x-amz-trailer` or the decoded length).
 */
function requestHeaders(object: StoredObject): Record<string, unknown> {
  const content = object.content as { headers?: Record<string, unknown> };
  return Buffer.isBuffer(object.content) || content.headers === undefined
    ? object.metadata
    : content.headers;
}

/** The request's headers as the object keeps them, once its aws-chunked body is decoded. */
function withoutAwsChunked(
  metadata: Record<string, unknown>,
  chunked: AwsChunkedUpload,
): Record<string, unknown> {
  const { 'content-encoding': _encoding, ...rest } = metadata;
  return chunked.contentEncoding === undefined
    ? rest
    : { ...rest, 'content-encoding': chunked.contentEncoding };
}

function temporaryPath(path: string): string {
  return `${path}.partial-${randomBytes(8).toString('hex')}`;
}

/**
 * Streams the body into a new temporary file beside `path`, hashing it on the way, and resolves
 * once the file is closed. On any failure (the client went away, the disk is full) the file is
 * removed and the error passed on.
 */
async function writeTemporary(
  path: string,
  content: Readable | Buffer,
  decoder?: Transform,
): Promise<{ path: string; size: number; md5: string }> {
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
  // arrive during a write go out together in the next `writev`; a larger buffer than the
  // default 16 KiB measured no faster (docs/decisions.md, D18).
  const file = createWriteStream(temporary, { flags: 'wx' });
  try {
    // One pipeline either way, so a client that goes away mid-body fails the write.
    await (decoder ? pipeline(source, decoder, hashing, file) : pipeline(source, hashing, file));
  } catch (error) {
    await rm(temporary, { force: true });
    // What the body itself got wrong is the client's error, answered with S3's code.
    if (error instanceof AwsChunkedError) throw new S3Error(error.s3Code, error.message);
    throw error;
  }
  return { path: temporary, size, md5: hash.digest('hex') };
}

async function writeAtomically(path: string, data: string): Promise<void> {
  const temporary = temporaryPath(path);
  try {
    await writeFile(temporary, data, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
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

/**
 * Moves the objects of a store written by s3rver's own layout (each key a path under its bucket)
 * to this store's, once: each object file with its ETag, metadata and tags goes under its key's
 * hash, with the key (its path under the bucket) kept in its metadata; what is left of the old
 * layout is then removed, and a marker says the directory is done. Only for a directory no
 * running server writes to (before the server starts). Killed half-way, the next start finishes
 * the move: an object is moved by a rename, the last step of each.
 */
export async function migrateLegacyLayout(directory: string): Promise<{ moved: number }> {
  await mkdir(directory, { recursive: true });
  const marker = join(directory, LAYOUT_MARKER);
  if ((await readFile(marker, 'utf8').catch(() => undefined)) === LAYOUT) return { moved: 0 };
  const store = new AtomicFilesystemStore(directory);
  let moved = 0;
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || !BUCKET_NAME.test(entry.name)) continue;
    moved += await migrateBucket(store, entry.name);
  }
  await writeAtomically(marker, LAYOUT);
  return { moved };
}

const LEGACY_OBJECT = '._S3rver_object';

async function migrateBucket(store: AtomicFilesystemStore, bucket: string): Promise<number> {
  const bucketPath = store.getBucketPath(bucket);
  const files = (await readdir(bucketPath, { recursive: true, withFileTypes: true })).filter(
    (entry) => entry.isFile(),
  );
  const own = (path: string) => {
    const top = relative(bucketPath, path).split(sep)[0];
    return top === OBJECTS_DIRECTORY || top === UPLOADS_DIRECTORY;
  };
  await mkdir(join(bucketPath, OBJECTS_DIRECTORY), { recursive: true });
  let moved = 0;
  for (const file of files) {
    const path = join(file.parentPath, file.name);
    if (own(path) || !file.name.endsWith(LEGACY_OBJECT)) continue;
    const legacy = path.slice(0, -LEGACY_OBJECT.length);
    // The path under the bucket, less the suffix: `x/._S3rver_object` is the key `x/`.
    const key = FilesystemStore.decodeKeyPath(
      relative(bucketPath, path).split(sep).join('/').slice(0, -LEGACY_OBJECT.length),
    );
    const metadata = await readFile(`${legacy}._S3rver_metadata.json`, 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => ({}));
    await store.putMetadata(bucket, key, metadata);
    const md5 = store.getResourcePath(bucket, key, 'object.md5');
    await rm(md5, { force: true });
    await rename(`${path}.md5`, md5).catch(() => undefined);
    await rename(
      `${legacy}._S3rver_tagging.xml`,
      store.getResourcePath(bucket, key, 'tagging.xml'),
    ).catch(() => undefined);
    await rename(path, store.getResourcePath(bucket, key, 'object'));
    moved++;
  }
  // What is left of the old layout: its directories and the files of objects now moved. The
  // bucket's own configuration (`._S3rver_cors.xml`, `._S3rver_website.xml`) stays.
  for (const entry of await readdir(bucketPath, { withFileTypes: true })) {
    if (entry.name === OBJECTS_DIRECTORY || entry.name === UPLOADS_DIRECTORY) continue;
    if (entry.isFile() && /^\._S3rver_[a-z]+\.xml$/.test(entry.name)) continue;
    await rm(join(bucketPath, entry.name), { recursive: true, force: true });
  }
  return moved;
}
