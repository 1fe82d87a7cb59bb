import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import S3Error from 's3rver/lib/models/error.js';
import S3Object from 's3rver/lib/models/object.js';
import FilesystemStore, { type StoredObject } from 's3rver/lib/stores/filesystem.js';
import {
  AwsChunkedDecoder,
  AwsChunkedError,
  awsChunkedUpload,
} from '#local/runtime/aws-chunked.ts';
import {
  copyTemporary,
  md5Of,
  renameDurably,
  syncPath,
  type WrittenFile,
  writeAtomically,
  writeTemporary,
} from '#local/runtime/s3-store/durable-files.ts';
import {
  type KeyIndex,
  keyHash,
  loadIndex,
  type StoredMetadata,
  utf8,
} from '#local/runtime/s3-store/key-index.ts';
import {
  requestHeaders,
  storedMetadata,
  withoutAwsChunked,
} from '#local/runtime/s3-store/object-metadata.ts';
/** A bucket's objects, each named by the SHA-256 of its key. */
export const OBJECTS_DIRECTORY = '._S3rver_objects';
/** A bucket's multipart uploads in progress (s3rver's own name). */
export const UPLOADS_DIRECTORY = '._S3rver_uploads';
/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** S3's bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
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
    ).catch((error: unknown) => {
      // What the body itself got wrong is the client's error, answered with S3's code.
      if (error instanceof AwsChunkedError) throw new S3Error(error.s3Code, error.message);
      throw error;
    });
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
    const path = await copyTemporary(source, destination);
    const written: WrittenFile = {
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
   * The object goes first, durably: from then on it does not exist for a reader, then the rest
   * goes.
   */
  override async deleteObject(bucket: string, key: string): Promise<void> {
    const objectPath = this.getResourcePath(bucket, key, 'object');
    if (await removed(objectPath)) await syncPath(dirname(objectPath));
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
    await renameDurably(written.path, partPath);
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
   * Puts a fully written, synced temporary file in place as the object. The metadata goes first
   * (it is not read without the object), a stale `.md5` is removed before the rename (without
   * one, the object is hashed when it is next read), and the new `.md5` follows it, so no moment
   * pairs an object with another object's ETag. Each step is on disk (its directory synced)
   * before the next begins, so a lost machine cannot reorder them either.
   */
  async #commit(
    bucket: string,
    key: string,
    written: { readonly path: string; readonly md5: string },
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const md5Path = this.getResourcePath(bucket, key, 'object.md5');
    await this.putMetadata(bucket, key, metadata);
    if (await removed(md5Path)) await syncPath(dirname(md5Path));
    await renameDurably(written.path, this.getResourcePath(bucket, key, 'object'));
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

/** Removes a file if it is there; whether it was. */
async function removed(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
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
