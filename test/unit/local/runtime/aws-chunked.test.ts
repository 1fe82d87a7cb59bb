/**
 * The local S3 server's aws-chunked decoder: whatever chunk sizes the client chose and however
 * the socket split the body, the object is the decoded bytes, and a trailing checksum or length
 * that does not match is refused with S3's code.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AwsChunkedDecoder,
  type AwsChunkedUpload,
  awsChunkedUpload,
} from '../../../../local/runtime/aws-chunked.ts';

function crc32Base64(bytes: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(bytes) >>> 0);
  return out.toString('base64');
}

/** A body framed as the SDKs frame it: one chunk a piece, a last empty chunk, the trailer. */
function frame(pieces: Buffer[], trailer: string | undefined, signed = false): Buffer {
  const extension = signed ? `;chunk-signature=${'a'.repeat(64)}` : '';
  const parts: Buffer[] = [];
  for (const piece of pieces) {
    if (piece.length === 0) continue;
    parts.push(
      Buffer.from(`${piece.length.toString(16)}${extension}\r\n`),
      piece,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`0${extension}\r\n${trailer === undefined ? '' : `${trailer}\r\n`}\r\n`));
  return Buffer.concat(parts);
}

/** Feeds `body` to a decoder in the given read sizes and answers the decoded bytes. */
async function decode(
  body: Buffer,
  upload: AwsChunkedUpload,
  reads: number[] = [],
): Promise<Buffer> {
  const splits: Buffer[] = [];
  let offset = 0;
  for (const size of reads) {
    if (offset >= body.length) break;
    splits.push(body.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < body.length) splits.push(body.subarray(offset));
  const out: Buffer[] = [];
  await pipeline(Readable.from(splits), new AwsChunkedDecoder(upload), async (chunks) => {
    for await (const chunk of chunks) out.push(chunk as Buffer);
  });
  return Buffer.concat(out);
}

const upload = (overrides: Partial<AwsChunkedUpload> = {}): AwsChunkedUpload => ({
  trailer: 'x-amz-checksum-crc32',
  decodedLength: undefined,
  contentEncoding: undefined,
  ...overrides,
});

describe('the aws-chunked decoder', () => {
  it('gives back the bytes, for any chunking and any split of the body into reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }),
        fc.boolean(),
        async (pieces, reads, signed) => {
          const buffers = pieces.map((piece) => Buffer.from(piece));
          const data = Buffer.concat(buffers);
          const body = frame(buffers, `x-amz-checksum-crc32:${crc32Base64(data)}`, signed);
          const decoded = await decode(body, upload({ decodedLength: data.length }), reads);
          expect(decoded.equals(data)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('checks a SHA-256 trailer, and takes a body without a trailer', async () => {
    const data = Buffer.from('a red kite\n');
    const sha256 = createHash('sha256').update(data).digest('base64');
    const trailer = 'x-amz-checksum-sha256';
    expect(await decode(frame([data], `${trailer}:${sha256}`), upload({ trailer }))).toEqual(data);
    await expect(
      decode(
        frame([data], `${trailer}:${Buffer.alloc(32).toString('base64')}`),
        upload({ trailer }),
      ),
    ).rejects.toMatchObject({ s3Code: 'BadDigest' });
    expect(await decode(frame([data], undefined), upload({ trailer: undefined }))).toEqual(data);
  });

  it('refuses a wrong checksum, a missing trailer, a short body and a wrong declared length', async () => {
    const data = Buffer.from('a blue heron\n');
    const good = `x-amz-checksum-crc32:${crc32Base64(data)}`;
    await expect(
      decode(frame([data], `x-amz-checksum-crc32:${crc32Base64(Buffer.from('x'))}`), upload()),
    ).rejects.toMatchObject({ s3Code: 'BadDigest' });
    await expect(decode(frame([data], undefined), upload())).rejects.toMatchObject({
      s3Code: 'InvalidRequest',
    });
    const whole = frame([data], good);
    await expect(decode(whole.subarray(0, whole.length - 9), upload())).rejects.toMatchObject({
      s3Code: 'IncompleteBody',
    });
    await expect(decode(whole, upload({ decodedLength: data.length + 1 }))).rejects.toMatchObject({
      s3Code: 'IncompleteBody',
    });
    await expect(
      decode(Buffer.from('zz\r\nab\r\n0\r\n\r\n'), upload({ trailer: undefined })),
    ).rejects.toMatchObject({ s3Code: 'InvalidRequest' });
  });
});

describe('an upload’s encoding', () => {
  it('is aws-chunked only when Content-Encoding says so, and keeps the other encodings', () => {
    expect(awsChunkedUpload({ 'content-encoding': 'gzip' })).toBeUndefined();
    expect(awsChunkedUpload({})).toBeUndefined();
    expect(
      awsChunkedUpload({
        'content-encoding': 'gzip, aws-chunked',
        'x-amz-trailer': 'X-Amz-Checksum-CRC32',
        'x-amz-decoded-content-length': '42',
      }),
    ).toEqual({ trailer: 'x-amz-checksum-crc32', decodedLength: 42, contentEncoding: 'gzip' });
    expect(awsChunkedUpload({ 'content-encoding': 'aws-chunked' })).toEqual({
      trailer: undefined,
      decodedLength: undefined,
      contentEncoding: undefined,
    });
  });
});
