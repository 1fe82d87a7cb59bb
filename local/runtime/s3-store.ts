/**
 * The local S3 server's store: s3rver's filesystem store, with every object written so that an
 * answered PUT is already whole on disk and a write cut short leaves nothing behind.
 *
 * s3rver's own `putObject` opens the object file in place (truncating what was there) and
 * resolves once the body has passed through its MD5 transform, before its write stream has
 * reached the file; s3rver then answers 200. A process killed in between keeps an object the
 * client was told was stored, empty or short. Here the body is hashed as it streams into a
 * temporary file beside the object; once that file is flushed and closed, the metadata is
 * written, and only then is the file renamed over the object, which is the moment it exists
 * for a reader. s3rver answers after this store returns.
 *
 * Not fsynced: a killed process loses nothing the kernel has accepted (the page cache belongs to
 * the kernel, not to the process), and the rename is atomic for every other process. Surviving
 * a power loss or kernel crash would need an fsync of each file and of its directory, which is
 * also more than the local DynamoDB server (LevelDB, unsynced writes) promises; the local runtime
 * promises to survive a killed process, not a lost machine (docs/local-runtime.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3Error from 's3rver/lib/models/error.js';
import FilesystemStore, { type StoredObject } from 's3rver/lib/stores/filesystem.js';
import {
  AwsChunkedDecoder,
  AwsChunkedError,
  type AwsChunkedUpload,
  awsChunkedUpload,
} from './aws-chunked.ts';

/** Every temporary file this store makes ends so; no name s3rver gives a file does. */
const PARTIAL = /\.partial-[0-9a-f]{16}$/;

export class AtomicFilesystemStore extends FilesystemStore {
  override async putObject(object: StoredObject): Promise<{ size: number; md5: string }> {
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

  override async putPart(
    bucket: string,
    uploadId: string,
    partNumber: number | string,
    content: Readable,
  ): Promise<{ size: number; md5: string }> {
    const partPath = join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      String(partNumber),
    );
    await mkdir(dirname(partPath), { recursive: true });
    const written = await writeTemporary(partPath, content);
    await rename(written.path, partPath);
    await writeAtomically(`${partPath}.md5`, written.md5);
    return { size: written.size, md5: written.md5 };
  }

  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, unknown>,
    md5?: string,
  ): Promise<void> {
    if (md5) await writeAtomically(this.getResourcePath(bucket, key, 'object.md5'), md5);
    await writeAtomically(
      this.getResourcePath(bucket, key, 'metadata.json'),
      JSON.stringify(storedMetadata(metadata), null, 2),
    );
  }

  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
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

  /**
   * Puts a fully written temporary file in place as the object. The metadata goes first (it is
   * not read without the object), a stale `.md5` is removed before the rename (without one, s3rver
   * hashes the object when it is next read), and the new `.md5` follows it, so no moment pairs an
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
  }
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
