/**
 * Copies one provider image into our bucket as a stream: the body flows from the provider's URL
 * through a checking transform (type by magic bytes, size limit, byte count, sha256) straight
 * into the object (one streaming PUT when the length is declared, else a multipart upload), so
 * memory stays flat whatever the image size.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  addressCheck,
  checkImageUrl,
  guardedLookup,
  type Resolver,
  type UrlPolicy,
  verifyConnectedAddress,
} from './address-guard.ts';
import {
  ImageDownloadError,
  ImageTooLargeError,
  ImageTruncatedError,
  ImageUrlExpiredError,
  ImageUrlRefusedError,
  NotAnImageError,
} from './errors.ts';
import { type ImageType, pngDimensions, SNIFF_BYTES, sniffImageType } from './sniff.ts';

export interface CopyImageOptions {
  readonly s3: S3Client;
  readonly url: string;
  readonly bucket: string;
  /** The object key, chosen once the image type is known (for its extension). */
  readonly key: (contentType: ImageType) => string;
  readonly policy: UrlPolicy;
  readonly maxBytes: number;
  /** Per-image time limit, connection to last byte. */
  readonly timeoutMs: number;
  /** Redirects followed, each re-checked against the policy; one more is refused. @default 3 */
  readonly maxRedirects?: number;
  /** How host names are resolved (every answer is checked). @default the system's `dns.lookup` */
  readonly resolve?: Resolver;
  readonly metadata?: Record<string, string>;
}

export interface CopiedImage {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: ImageType;
  /** Read from the image header where the format makes it cheap (PNG). */
  readonly width?: number;
  readonly height?: number;
}

const ACCEPTED_CONTENT_TYPES = [
  'image/png',
  'image/jpeg',
  'image/webp',
  'application/octet-stream',
  'binary/octet-stream',
];

export async function copyImage(options: CopyImageOptions): Promise<CopiedImage> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const response = await open(options.url, options, signal, options.maxRedirects ?? 3);
  const declared = declaredLength(response);
  if (declared !== undefined && declared > options.maxBytes) {
    response.destroy();
    throw new ImageTooLargeError(`Image is ${declared} bytes; the limit is ${options.maxBytes}`);
  }
  const contentType = (response.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType && !ACCEPTED_CONTENT_TYPES.includes(contentType)) {
    response.destroy();
    throw new NotAnImageError(`Image URL served ${contentType}`);
  }
  const head = await peek(response, SNIFF_BYTES);
  const type = sniffImageType(head);
  if (type === undefined) {
    response.destroy();
    throw new NotAnImageError('The image is not a PNG, JPEG or WebP');
  }
  const key = options.key(type);
  const inspector = new ImageInspector(options.maxBytes);
  const upload = startUpload(options, key, type, response.pipe(inspector), declared);
  // A failure on the download side must abort the upload, and surface as the download's error;
  // the response is dropped too, or its connection stays open until the timeout.
  let downloadError: Error | undefined;
  const fail = (error: Error) => {
    downloadError ??= error;
    void upload.abort().catch(() => undefined);
    // Ends the body the upload reads, so it stops waiting for bytes that will not come.
    inspector.destroy();
    response.destroy();
  };
  response.on('aborted', () => fail(truncated(inspector.bytes, declared)));
  response.on('error', (error) => fail(toDownloadError(error, inspector.bytes, declared)));
  inspector.on('error', (error) => fail(error));
  signal.addEventListener('abort', () => {
    fail(new ImageDownloadError(`Image download timed out after ${options.timeoutMs} ms`));
    response.destroy();
  });
  try {
    await upload.done;
  } catch (error) {
    response.destroy();
    throw downloadError ?? new ImageDownloadError('Storing the image failed', { cause: error });
  }
  if (downloadError) throw downloadError;
  if (!response.complete || (declared !== undefined && inspector.bytes !== declared)) {
    throw truncated(inspector.bytes, declared);
  }
  return {
    bucket: options.bucket,
    key,
    size: inspector.bytes,
    sha256: inspector.sha256(),
    contentType: type,
    ...pngDimensions(head),
  };
}

/** S3's largest single PUT. */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

interface RunningUpload {
  readonly done: Promise<unknown>;
  abort(): Promise<void>;
}

/**
 * Streams the body into the object. With a declared length (providers' pre-signed URLs send one)
 * it is a single streaming PutObject: nothing is buffered beyond the streams' own chunks, and a
 * stream body is not hashed again for the request signature. Without one, the size is unknown
 * up front, so it is a multipart upload, which holds each part in memory.
 */
function startUpload(
  options: CopyImageOptions,
  key: string,
  type: ImageType,
  body: Readable,
  declared: number | undefined,
): RunningUpload {
  const params = {
    Bucket: options.bucket,
    Key: key,
    Body: body,
    ContentType: type,
    ...(options.metadata && { Metadata: options.metadata }),
  };
  if (declared !== undefined && declared <= MAX_SINGLE_PUT_BYTES) {
    const controller = new AbortController();
    const done = options.s3.send(new PutObjectCommand({ ...params, ContentLength: declared }), {
      abortSignal: controller.signal,
    });
    // Settled by the caller's await; an abort must not surface as an unhandled rejection first.
    done.catch(() => undefined);
    return { done, abort: async () => controller.abort() };
  }
  const upload = new Upload({
    client: options.s3,
    params,
    // The part being filled, one copy of it and queueSize parts in flight stay in memory.
    queueSize: 1,
    partSize: 5 * 1024 * 1024,
    leavePartsOnError: false,
  });
  return { done: upload.done(), abort: () => upload.abort() };
}

function truncated(bytes: number, declared: number | undefined) {
  return new ImageTruncatedError(
    `Image download ended after ${bytes} of ${declared ?? 'unknown'} bytes`,
  );
}

function toDownloadError(error: Error, bytes: number, declared: number | undefined): Error {
  if (error instanceof ImageUrlRefusedError) return error;
  if (declared !== undefined && bytes < declared) return truncated(bytes, declared);
  return new ImageDownloadError(`Image download failed: ${error.message}`, { cause: error });
}

function declaredLength(response: IncomingMessage): number | undefined {
  const value = response.headers['content-length'];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Opens the URL, following up to `redirects` redirects, each checked against the policy. */
async function open(
  rawUrl: string,
  options: CopyImageOptions,
  signal: AbortSignal,
  redirects: number,
): Promise<IncomingMessage> {
  const url = checkImageUrl(rawUrl, options.policy);
  const response = await get(url, options, signal);
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    // A longer chain will not get shorter by trying again: refused, not retried.
    if (redirects <= 0) throw new ImageUrlRefusedError('Too many redirects fetching the image');
    const next = new URL(response.headers.location, url).href;
    return open(next, options, signal, redirects - 1);
  }
  if (status === 200) return response;
  response.resume();
  if (status === 403) throw new ImageUrlExpiredError('Image URL answered 403 (expired or refused)');
  throw new ImageDownloadError(`Image URL answered HTTP ${status}`);
}

function get(url: URL, options: CopyImageOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const isAllowed = addressCheck(url, options.policy);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: 'GET', lookup: guardedLookup(isAllowed, options.resolve), signal },
      resolve,
    );
    verifyConnectedAddress(outgoing, isAllowed);
    outgoing.on('error', (error) => {
      if (error instanceof ImageUrlRefusedError) reject(error);
      else if (error.cause instanceof ImageUrlRefusedError) reject(error.cause);
      else
        reject(new ImageDownloadError(`Image request failed: ${error.message}`, { cause: error }));
    });
    outgoing.end();
  });
}

/**
 * Reads at least `bytes` bytes (or to the end) without consuming them: they are put back, so the
 * stream still starts at its first byte.
 */
function peek(stream: IncomingMessage, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => {
      stream.off('readable', onReadable);
      stream.off('end', finish);
      stream.off('close', finish);
      stream.off('error', reject);
      const head = Buffer.concat(chunks);
      if (head.length > 0) stream.unshift(head);
      resolve(head);
    };
    const onReadable = () => {
      let chunk: Buffer | null = stream.read() as Buffer | null;
      while (chunk !== null) {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= bytes) return finish();
        chunk = stream.read() as Buffer | null;
      }
    };
    stream.on('readable', onReadable);
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', reject);
  });
}

/** Passes bytes through while counting, hashing and enforcing the size limit. */
class ImageInspector extends Transform {
  bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    super();
    this.#maxBytes = maxBytes;
  }

  sha256(): string {
    return this.#hash.digest('hex');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#maxBytes) {
      callback(new ImageTooLargeError(`Image is larger than the limit of ${this.#maxBytes} bytes`));
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }
}
