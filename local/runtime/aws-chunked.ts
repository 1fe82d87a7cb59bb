/**
 * S3's `aws-chunked` content encoding, decoded for the local S3 server. The AWS SDKs send a
 * streamed body that way when they add a checksum (their default since 2025): the body in
 * `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` chunks, a last chunk of size 0, then trailing
 * headers (`x-amz-checksum-crc32:<base64>`) and an empty line. s3rver would store all of that as
 * the object; S3 stores the decoded bytes, checks the trailing checksum (400 `BadDigest` on a
 * mismatch) and takes `aws-chunked` out of the object's `Content-Encoding`, and so does this.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

/** How an upload is encoded, read from its request headers; undefined when not aws-chunked. */
export interface AwsChunkedUpload {
  /** The trailing header that carries the checksum (`x-amz-checksum-crc32`), if any. */
  readonly trailer: string | undefined;
  /** `x-amz-decoded-content-length`: the object's size, when declared. */
  readonly decodedLength: number | undefined;
  /** The object's `Content-Encoding` without `aws-chunked` (undefined when nothing is left). */
  readonly contentEncoding: string | undefined;
}

export function awsChunkedUpload(headers: Record<string, unknown>): AwsChunkedUpload | undefined {
  const encodings = String(headers['content-encoding'] ?? '')
    .split(',')
    .map((encoding) => encoding.trim())
    .filter((encoding) => encoding !== '');
  if (!encodings.some((encoding) => encoding.toLowerCase() === 'aws-chunked')) return undefined;
  const rest = encodings.filter((encoding) => encoding.toLowerCase() !== 'aws-chunked');
  const declared = headers['x-amz-decoded-content-length'];
  const trailer = headers['x-amz-trailer'];
  return {
    trailer: typeof trailer === 'string' && trailer !== '' ? trailer.toLowerCase() : undefined,
    decodedLength: declared === undefined ? undefined : Number(declared),
    contentEncoding: rest.length > 0 ? rest.join(',') : undefined,
  };
}

/** The upload does not decode, or its checksum or length is not what it says (S3's codes). */
export class AwsChunkedError extends Error {
  readonly s3Code: 'BadDigest' | 'IncompleteBody' | 'InvalidRequest';

  constructor(s3Code: AwsChunkedError['s3Code'], message: string) {
    super(message);
    this.name = 'AwsChunkedError';
    this.s3Code = s3Code;
  }
}

/** A running checksum of the decoded bytes, as S3 writes it (base64 of the big-endian digest). */
interface Checksum {
  update(bytes: Buffer): void;
  digest(): string;
}

function crc32Checksum(): Checksum {
  let value = 0;
  return {
    update: (bytes) => {
      value = crc32(bytes, value);
    },
    digest: () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(value >>> 0);
      return out.toString('base64');
    },
  };
}

function hashChecksum(algorithm: 'sha1' | 'sha256'): Checksum {
  const hash: Hash = createHash(algorithm);
  return { update: (bytes) => hash.update(bytes), digest: () => hash.digest('base64') };
}

/**
 * The checksums this server checks. CRC32C and CRC64NVME have no implementation in Node: their
 * bodies are decoded and stored, and their trailing value is not checked.
 */
const CHECKSUMS: Readonly<Record<string, () => Checksum>> = {
  'x-amz-checksum-crc32': crc32Checksum,
  'x-amz-checksum-sha1': () => hashChecksum('sha1'),
  'x-amz-checksum-sha256': () => hashChecksum('sha256'),
};

/** Longest chunk-size line or trailing header accepted, in bytes. */
const MAX_LINE = 8192;

const CRLF = Buffer.from('\r\n');

/** Turns an aws-chunked body into the object's bytes, checking what its trailer declares. */
export class AwsChunkedDecoder extends Transform {
  #state: 'size' | 'data' | 'dataEnd' | 'trailer' | 'done' = 'size';
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #decoded = 0;
  readonly #upload: AwsChunkedUpload;
  readonly #checksum: Checksum | undefined;
  readonly #trailers = new Map<string, string>();

  constructor(upload: AwsChunkedUpload) {
    super();
    this.#upload = upload;
    const make = upload.trailer === undefined ? undefined : CHECKSUMS[upload.trailer];
    this.#checksum = make?.();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.#state !== 'done') {
      callback(new AwsChunkedError('IncompleteBody', 'The aws-chunked body ended early'));
      return;
    }
    const declared = this.#upload.decodedLength;
    if (declared !== undefined && declared !== this.#decoded) {
      callback(
        new AwsChunkedError(
          'IncompleteBody',
          `The body decodes to ${this.#decoded} bytes; x-amz-decoded-content-length says ${declared}`,
        ),
      );
      return;
    }
    const trailer = this.#upload.trailer;
    if (trailer !== undefined) {
      const sent = this.#trailers.get(trailer);
      if (sent === undefined) {
        callback(new AwsChunkedError('InvalidRequest', `The body has no trailing ${trailer}`));
        return;
      }
      const computed = this.#checksum?.digest();
      if (computed !== undefined && computed !== sent) {
        callback(
          new AwsChunkedError(
            'BadDigest',
            `The ${trailer} you specified did not match the calculated checksum`,
          ),
        );
        return;
      }
    }
    callback();
  }

  /** Parses as much of `input` as it can; what is left of an unfinished line waits for more. */
  #consume(input: Buffer): void {
    let offset = 0;
    this.#pending = Buffer.alloc(0);
    while (offset < input.length) {
      if (this.#state === 'data') {
        const take = Math.min(this.#remaining, input.length - offset);
        const bytes = input.subarray(offset, offset + take);
        this.#checksum?.update(bytes);
        this.#decoded += take;
        this.#remaining -= take;
        offset += take;
        this.push(bytes);
        if (this.#remaining === 0) this.#state = 'dataEnd';
        continue;
      }
      if (this.#state === 'done') {
        throw new AwsChunkedError('InvalidRequest', 'Bytes after the end of the aws-chunked body');
      }
      const end = input.indexOf(CRLF, offset);
      if (end === -1) {
        if (input.length - offset > MAX_LINE) {
          throw new AwsChunkedError('InvalidRequest', 'An aws-chunked line is too long');
        }
        this.#pending = Buffer.from(input.subarray(offset));
        return;
      }
      const line = input.toString('latin1', offset, end);
      offset = end + CRLF.length;
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (this.#state === 'dataEnd') {
      if (line !== '')
        throw new AwsChunkedError('InvalidRequest', 'A chunk is longer than its size');
      this.#state = 'size';
    } else if (this.#state === 'size') {
      const size = line.split(';')[0]?.trim() ?? '';
      if (!/^[0-9a-fA-F]{1,16}$/.test(size)) {
        throw new AwsChunkedError(
          'InvalidRequest',
          `Not an aws-chunked size: ${JSON.stringify(size)}`,
        );
      }
      this.#remaining = Number.parseInt(size, 16);
      this.#state = this.#remaining === 0 ? 'trailer' : 'data';
    } else if (this.#state === 'trailer') {
      if (line === '') {
        this.#state = 'done';
        return;
      }
      const colon = line.indexOf(':');
      if (colon <= 0)
        throw new AwsChunkedError('InvalidRequest', 'A trailing header without a name');
      this.#trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
}
