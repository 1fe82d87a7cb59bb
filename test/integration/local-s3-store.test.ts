/**
 * The local S3 server's store (local/runtime/s3-store.ts) keeps s3rver's behaviour for every
 * write the local runtime and its users make — PUT, multipart upload, copy — while no write that
 * fails half-way replaces an object or leaves a file behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, type LocalStorage, startLocalStorage } from '../../local/runtime/storage.ts';
import { signedS3Headers } from '../helpers/s3-signing.ts';

const BUCKET = 'storebucket';
const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('the local S3 server’s store', () => {
  let dataDir: string;
  let storage: LocalStorage;
  let s3: S3Client;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-s3-store-'));
    storage = await startLocalStorage({
      dataDir,
      template: { Resources: { [BUCKET]: { Type: 'AWS::S3::Bucket' } } },
    });
    s3 = new S3Client({
      endpoint: storage.s3Endpoint,
      region: LOCAL_REGION,
      credentials: storage.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await storage?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const read = async (key: string) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const body = object.Body as { transformToByteArray(): Promise<Uint8Array> };
    return { object, bytes: await body.transformToByteArray() };
  };
  const leftovers = async () =>
    (await readdir(join(dataDir, 's3'), { recursive: true })).filter((name) =>
      /\.partial-/.test(name),
    );

  it('replaces an object only with a PUT that arrived whole', async () => {
    const key = 'images/local/g1/0.png';
    const first = randomBytes(200_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: first }));

    // A PUT whose client goes away after 64 KiB of the 1 MiB it announced.
    await new Promise<void>((resolve) => {
      const url = new URL(`${storage.s3Endpoint}/${BUCKET}/${key}`);
      const outgoing = request(url, {
        method: 'PUT',
        headers: { 'content-length': String(MIB), 'content-type': 'image/png' },
      });
      outgoing.on('error', () => resolve());
      outgoing.write(randomBytes(64 * 1024), () => setTimeout(() => outgoing.destroy(), 100));
      outgoing.on('close', () => resolve());
    });
    // The server notices the reset and drops the temporary file.
    for (let attempt = 0; attempt < 50 && (await leftovers()).length > 0; attempt++) {
      await sleep(20);
    }
    expect(sha256((await read(key)).bytes)).toBe(sha256(first));
    expect(await leftovers()).toEqual([]);

    const second = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: second }));
    const { object, bytes } = await read(key);
    expect(sha256(bytes)).toBe(sha256(second));
    expect(object.ETag).toBe(`"${createHash('md5').update(second).digest('hex')}"`);
  });

  it('stores a multipart upload and a copy whole, with their metadata and ETags', async () => {
    const body = randomBytes(6 * MIB + 123);
    await new Upload({
      client: s3,
      params: {
        Bucket: BUCKET,
        Key: 'big/object.bin',
        Body: body,
        ContentType: 'image/png',
        Metadata: { 'generation-id': 'g2' },
      },
      partSize: 5 * MIB,
    }).done();
    const uploaded = await read('big/object.bin');
    expect(sha256(uploaded.bytes)).toBe(sha256(body));
    expect(uploaded.object.ContentType).toBe('image/png');
    expect(uploaded.object.Metadata).toEqual({ 'generation-id': 'g2' });

    await s3.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: 'copies/object.bin',
        CopySource: `${BUCKET}/big/object.bin`,
      }),
    );
    const copied = await read('copies/object.bin');
    expect(sha256(copied.bytes)).toBe(sha256(body));
    expect(copied.object.ContentType).toBe('image/png');
    expect(copied.object.Metadata).toEqual({ 'generation-id': 'g2' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'copies/object.bin' }));
    expect(head.ETag).toBe(uploaded.object.ETag);
    expect(await leftovers()).toEqual([]);
  });

  describe('with the SDK’s default checksums (streamed bodies come aws-chunked)', () => {
    let withChecksums: S3Client;
    beforeAll(() => {
      withChecksums = new S3Client({
        endpoint: storage.s3Endpoint,
        region: LOCAL_REGION,
        credentials: storage.credentials,
        forcePathStyle: true,
      });
    });
    afterAll(() => withChecksums?.destroy());

    it.each([
      ['CRC32 (the default)', undefined],
      ['SHA-256', 'SHA256' as const],
      ['CRC32C, stored but not checked', 'CRC32C' as const],
    ])('stores the decoded bytes of a streamed PUT with a %s trailer', async (_name, algorithm) => {
      const body = randomBytes(3 * MIB + 17);
      const key = `chunked/${algorithm ?? 'default'}.bin`;
      await withChecksums.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          // In pieces, as a download arrives: the SDK frames each one as a chunk.
          Body: Readable.from(
            Array.from({ length: 50 }, (_, i) => body.subarray(i * 65_000, (i + 1) * 65_000)),
          ),
          ContentLength: body.length,
          ContentType: 'image/png',
          ContentEncoding: 'identity',
          ...(algorithm && { ChecksumAlgorithm: algorithm }),
        }),
      );
      const stored = await read(key);
      expect(stored.bytes.length).toBe(body.length);
      expect(sha256(stored.bytes)).toBe(sha256(body));
      expect(stored.object.ContentLength).toBe(body.length);
      // Only aws-chunked is taken out of the object's encoding.
      expect(stored.object.ContentEncoding).toBe('identity');
      expect(stored.object.ContentType).toBe('image/png');
      expect(stored.object.ETag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    });

    it('stores a multipart upload whole', async () => {
      const body = randomBytes(11 * MIB + 5);
      await new Upload({
        client: withChecksums,
        params: { Bucket: BUCKET, Key: 'chunked/parts.bin', Body: Readable.from([body]) },
        partSize: 5 * MIB,
      }).done();
      const stored = await read('chunked/parts.bin');
      expect(sha256(stored.bytes)).toBe(sha256(body));
      expect(stored.object.ContentEncoding).toBeUndefined();
    });

    it('refuses a body whose trailing checksum does not match with 400 BadDigest, and stores nothing', async () => {
      const key = 'chunked/bad.bin';
      const data = Buffer.from('a red kite\n');
      const wrong = Buffer.alloc(4, 0).toString('base64');
      const framed = Buffer.concat([
        Buffer.from(`${data.length.toString(16)}\r\n`),
        data,
        Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${wrong}\r\n\r\n`),
      ]);
      const target = new URL(`${storage.s3Endpoint}/${BUCKET}/${key}`);
      // Signed as an SDK signs a streamed upload with a trailing checksum.
      const headers = await signedS3Headers(storage.s3Endpoint, {
        method: 'PUT',
        path: target.pathname,
        credentials: storage.credentials,
        headers: {
          'content-length': String(framed.length),
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': String(data.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        },
      });
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const outgoing = request(target, { method: 'PUT', headers });
        outgoing.once('response', (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          response.once('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        outgoing.once('error', reject);
        outgoing.end(framed);
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toContain('<Code>BadDigest</Code>');
      await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toThrow();
      expect(await leftovers()).toEqual([]);
    });
  });
});
