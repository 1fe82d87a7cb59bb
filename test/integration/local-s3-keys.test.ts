/**
 * Object keys are names, never paths, in the local S3 server: every key S3 accepts (any UTF-8 up
 * to 1,024 bytes, `../` and all) round-trips through the SDK — put, head, get, copy, multipart
 * upload, list (in S3's order, with prefix, delimiter, continuation and start-after), delete, and
 * the event notification (its key URL-encoded as S3 sends it, decoded once) — and nothing is
 * written outside the store's directory, whatever the key.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  type ListObjectsCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEventKey } from '#shared/prompt-files/keys.ts';
import type { AwsCredentials } from '../../local/aws/identities.ts';
import { LOCAL_REGION, type LocalStorage, startLocalStorage } from '../../local/runtime/storage.ts';
import { signedS3Headers } from '../helpers/s3-signing.ts';

const BUCKET = 'keysbucket';
const MAX_KEY_BYTES = 1024;
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The longest start of `text` (whole code points) within S3's 1,024 bytes; never empty. */
function asKey(text: string): string {
  let key = '';
  for (const character of text) {
    if (bytes(key + character) > MAX_KEY_BYTES) break;
    key += character;
  }
  return key === '' ? 'k' : key;
}

/** Pieces that make keys hard for a store of paths, and for an order of UTF-16 code units. */
const PIECES = ['a', 'b', '/', '//', '../', './', '%', '%2f', '+', ' ', '?', '#', 'é', '\u{1F600}'];
const PIECES_ORDERED = [...PIECES, '\uE000', '\uFFFD', '\u0000', '\n', '\r', 'a/', 'a/b'];

const anyKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1024 }).map(asKey),
  fc
    .array(fc.constantFrom(...PIECES_ORDERED), { minLength: 1, maxLength: 12 })
    .map((pieces) => asKey(pieces.join(''))),
  // Near the limit, with multi-byte characters at the end.
  fc
    .tuple(fc.integer({ min: 900, max: 1020 }), fc.string({ unit: 'binary', maxLength: 8 }))
    .map(([length, tail]) => asKey(`${'x'.repeat(length)}${tail}`)),
  fc.constant(`${'../'.repeat(40)}${tmpdir()}/escaped`),
);

/** A PUT whose path is sent exactly as given. */
/** A PUT of `x` at a path sent exactly as written, signed by the administrator as an SDK signs. */
async function putAtRawPath(
  endpoint: string,
  path: string,
  credentials: AwsCredentials,
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(endpoint);
  const headers = await signedS3Headers(endpoint, {
    method: 'PUT',
    path,
    credentials,
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': '1' },
  });
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, path, method: 'PUT', headers }, (answer) => {
      let text = '';
      answer.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      answer.on('end', () => resolve({ status: answer.statusCode ?? 0, text }));
    });
    outgoing.on('error', reject);
    outgoing.end('x');
  });
}

/** S3's order: the keys' UTF-8 bytes. */
const s3Order = (left: string, right: string) =>
  Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));

/**
 * What ListObjectsV2 must answer over all its pages, worked out the plain way: every key in
 * S3's order, those after `startAfter` under `prefix`, each rolled up to its common prefix when
 * its rest holds the delimiter.
 */
function expectedListing(
  keys: readonly string[],
  options: { prefix: string; delimiter: string; startAfter: string },
): string[] {
  const entries: string[] = [];
  for (const key of [...keys].sort(s3Order)) {
    if (!key.startsWith(options.prefix) || s3Order(key, options.startAfter) <= 0) continue;
    const rest = key.slice(options.prefix.length);
    const cut = options.delimiter === '' ? -1 : rest.indexOf(options.delimiter);
    const entry =
      cut === -1 ? key : key.slice(0, options.prefix.length + cut + options.delimiter.length);
    if (entries.at(-1) !== entry && s3Order(entry, options.startAfter) > 0) entries.push(entry);
  }
  return entries;
}

describe('object keys in the local S3 server', () => {
  let dataDir: string;
  let storage: LocalStorage;
  let s3: S3Client;

  const events: Array<{ bucket: string; name: string; key: string }> = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-s3-keys-'));
    storage = await startLocalStorage({
      dataDir,
      template: { Resources: { [BUCKET]: { Type: 'AWS::S3::Bucket' } } },
    });
    storage.onS3Event((event) => {
      for (const record of event.Records) {
        const s3 = record.s3 as { bucket: { name: string }; object: { key: string } };
        events.push({
          bucket: s3.bucket.name,
          name: String(record.eventName),
          key: s3.object.key,
        });
      }
    });
    s3 = new S3Client({
      endpoint: storage.s3Endpoint,
      region: LOCAL_REGION,
      credentials: storage.credentials,
      forcePathStyle: true,
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await storage?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const text = async (bucket: string, key: string) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (object.Body as { transformToString(): Promise<string> }).transformToString();
  };

  /**
   * Every page of a listing, asked for with `encoding-type=url` and read back: ListObjectsV2 page
   * after page by its continuation token, or ListObjects (version 1) by its `NextMarker`.
   */
  async function listAll(
    bucket: string,
    options: { prefix: string; delimiter: string; startAfter: string; maxKeys: number },
    version: 1 | 2 = 2,
  ): Promise<string[]> {
    const entries: string[] = [];
    const decode = (value: string) => decodeURIComponent(value.replaceAll('+', '%20'));
    let token: string | undefined;
    let marker = options.startAfter;
    for (let page = 0; page < 1000; page++) {
      const query = {
        Bucket: bucket,
        Prefix: options.prefix,
        ...(options.delimiter !== '' && { Delimiter: options.delimiter }),
        MaxKeys: options.maxKeys,
        // XML 1.0 cannot carry every character a key may hold (S3 says the same).
        EncodingType: 'url' as const,
      };
      const answer: ListObjectsV2CommandOutput | ListObjectsCommandOutput =
        version === 2
          ? await s3.send(
              new ListObjectsV2Command({
                ...query,
                ...(options.startAfter !== '' && { StartAfter: options.startAfter }),
                ContinuationToken: token,
              }),
            )
          : await s3.send(new ListObjectsCommand({ ...query, Marker: marker }));
      const keys = (answer.Contents ?? []).map((object) => decode(object.Key as string));
      const prefixes = (answer.CommonPrefixes ?? []).map((p) => decode(p.Prefix as string));
      expect(keys.length + prefixes.length).toBeLessThanOrEqual(options.maxKeys);
      if ('KeyCount' in answer) expect(keys.length + prefixes.length).toBe(answer.KeyCount);
      // Keys and prefixes of a page interleave in S3's order.
      const pageEntries = [...keys, ...prefixes].sort(s3Order);
      entries.push(...pageEntries);
      if (!answer.IsTruncated) return entries;
      if ('NextContinuationToken' in answer) {
        token = answer.NextContinuationToken;
        expect(token).toBeDefined();
      } else {
        // Without a delimiter S3 gives no NextMarker: the page's last key is the marker.
        marker =
          options.delimiter === ''
            ? (pageEntries.at(-1) as string)
            : decode((answer as ListObjectsCommandOutput).NextMarker as string);
      }
    }
    throw new Error('the listing never ended');
  }

  it('round-trips every key S3 accepts through put, head, get, copy, multipart and delete', async () => {
    await fc.assert(
      fc.asyncProperty(anyKey, async (key) => {
        const body = `body of ${createHash('sha256').update(key).digest('hex')}`;
        await s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key,
            Body: body,
            ContentType: 'text/plain',
            Metadata: { source: 'property' },
          }),
        );
        // The event S3 sends for it: the key URL-encoded once, as S3 encodes it.
        const event = events.findLast((record) => record.bucket === BUCKET);
        expect(event?.name).toBe('ObjectCreated:Put');
        expect(event?.key).toMatch(/^[A-Za-z0-9*._/+%-]+$/);
        expect(decodeEventKey(event?.key ?? '')).toBe(key);
        const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(head.ContentLength).toBe(bytes(body));
        expect(head.Metadata).toEqual({ source: 'property' });
        expect(await text(BUCKET, key)).toBe(body);

        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: BUCKET, Prefix: key, EncodingType: 'url' }),
        );
        expect(
          (listed.Contents ?? []).map((object) =>
            decodeURIComponent((object.Key as string).replaceAll('+', '%20')),
          ),
        ).toContain(key);

        // A copy under another key that is as hostile, and a multipart upload over the copy.
        const copied = asKey(`copy/${key}`);
        const copyKey = copied === key ? 'copy of itself' : copied;
        await s3.send(
          new CopyObjectCommand({
            Bucket: BUCKET,
            Key: copyKey,
            CopySource: `${BUCKET}/${encodeURIComponent(key)}`,
          }),
        );
        expect(await text(BUCKET, copyKey)).toBe(body);
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: copyKey }),
        );
        const parts = await Promise.all(
          ['first part, ', 'second part'].map(async (part, index) => {
            const { ETag } = await s3.send(
              new UploadPartCommand({
                Bucket: BUCKET,
                Key: copyKey,
                UploadId,
                PartNumber: index + 1,
                Body: part,
              }),
            );
            return { ETag, PartNumber: index + 1 };
          }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: BUCKET,
            Key: copyKey,
            UploadId,
            MultipartUpload: { Parts: parts },
          }),
        );
        expect(await text(BUCKET, copyKey)).toBe('first part, second part');
        expect(await text(BUCKET, key)).toBe(body);

        for (const gone of [key, copyKey]) {
          await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: gone }));
          await expect(
            s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: gone })),
          ).rejects.toThrow(NoSuchKey);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('lists keys as S3 does (versions 1 and 2): UTF-8 order, prefix, delimiter, start-after, pages of any size', async () => {
    let buckets = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc
            .array(fc.constantFrom(...PIECES_ORDERED), { minLength: 1, maxLength: 5 })
            .map((p) => p.join('')),
          { minLength: 1, maxLength: 25 },
        ),
        fc.constantFrom('', 'a', 'a/', '.', '%'),
        fc.constantFrom('', '/', 'a', '\u{1F600}'),
        fc.constantFrom('', 'a', 'a/', '\uE000', '\u{1F600}', '/'),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(1 as const, 2 as const),
        async (keys, prefix, delimiter, startAfter, maxKeys, version) => {
          const bucket = `listing-${buckets++}`;
          await s3.send(new CreateBucketCommand({ Bucket: bucket }));
          for (const key of keys) {
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
          }
          const options = { prefix, delimiter, startAfter, maxKeys };
          expect(await listAll(bucket, options, version)).toEqual(expectedListing(keys, options));
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  it('writes nothing outside its directory for a key of `../` and an absolute directory', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'spark-t2i-outside-'));
    try {
      const keys = [
        // `../` forty times, then the directory without and with its leading slash.
        `prompts/${'../'.repeat(40)}${outside.slice(1)}/written.txt`,
        `prompts/${'../'.repeat(40)}${outside}/written.txt`,
        `${outside}/written.txt`,
      ];
      for (const [index, key] of keys.entries()) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `put ${index}` }));
        await s3.send(
          new PutObjectTaggingCommand({
            Bucket: BUCKET,
            Key: key,
            Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] },
          }),
        );
        const copy = `${key}.copy`;
        await s3.send(
          new CopyObjectCommand({
            Bucket: BUCKET,
            Key: copy,
            CopySource: `${BUCKET}/${encodeURIComponent(key)}`,
          }),
        );
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${key}.parts` }),
        );
        const { ETag } = await s3.send(
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: `${key}.parts`,
            UploadId,
            PartNumber: 1,
            Body: 'one part',
          }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: BUCKET,
            Key: `${key}.parts`,
            UploadId,
            MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] },
          }),
        );
        expect(await text(BUCKET, key)).toBe(`put ${index}`);
        expect(await text(BUCKET, copy)).toBe(`put ${index}`);
        expect(await text(BUCKET, `${key}.parts`)).toBe('one part');
      }
      expect(await readdir(outside, { recursive: true })).toEqual([]);
      // Inside, every object file is named by a hash, in the bucket's objects directory.
      const bucketFiles = await readdir(join(dataDir, 's3', BUCKET), { recursive: true });
      for (const name of bucketFiles) {
        expect(name).toMatch(
          /^\._S3rver_objects(\/[0-9a-f]{64}\.(object|object\.md5|metadata\.json|tagging\.xml))?$|^\._S3rver_uploads$/,
        );
      }
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a key over 1,024 bytes with KeyTooLongError, a bucket name that is a path with InvalidBucketName', async () => {
    await expect(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'é'.repeat(513), Body: 'x' })),
    ).rejects.toMatchObject({ name: 'KeyTooLongError' });
    // Sent as written: a URL parser would resolve the dot segments before they left.
    for (const path of [`/%2E%2E/${BUCKET}/x`, `/../${BUCKET}/x`, '/./x']) {
      const answer = await putAtRawPath(storage.s3Endpoint, path, storage.credentials);
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('<Code>InvalidBucketName</Code>');
    }
    // Neither beside the store (`..`) nor in it as if it were a bucket (`.`).
    expect(existsSync(join(dataDir, BUCKET))).toBe(false);
    expect((await readdir(join(dataDir, 's3'))).filter((name) => name.startsWith('x'))).toEqual([]);
  });
});

describe('a store written by an earlier version (keys as paths)', () => {
  it('is moved under the keys’ hashes at start, every object with its metadata and ETag', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-s3-legacy-'));
    const directory = join(dataDir, 's3');
    const objects = new Map([
      ['a', 'the object a'],
      ['a/b', 'the object a/b'],
      ['folder/', ''],
      ['images/local/g1/0 copy (2).png', 'an image'],
    ]);
    try {
      // s3rver with its own store, as the local runtime used to run it.
      const legacy = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory,
        configureBuckets: [{ name: BUCKET, configs: [] }],
      });
      const address = await legacy.run();
      const old = new S3Client({
        endpoint: `http://127.0.0.1:${address.port}`,
        region: LOCAL_REGION,
        // s3rver's own fixed keys: this is s3rver alone, as an earlier version ran it.
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
      });
      const etags = new Map<string, string | undefined>();
      for (const [key, body] of objects) {
        const put = await old.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key,
            Body: body,
            ContentType: 'image/png',
            Metadata: { 'generation-id': key },
          }),
        );
        etags.set(key, put.ETag);
      }
      old.destroy();
      await legacy.close();
      expect(await readdir(join(directory, BUCKET))).toContain('a._S3rver_object');

      const storage = await startLocalStorage({
        dataDir,
        template: { Resources: { [BUCKET]: { Type: 'AWS::S3::Bucket' } } },
      });
      const s3 = new S3Client({
        endpoint: storage.s3Endpoint,
        region: LOCAL_REGION,
        credentials: storage.credentials,
        forcePathStyle: true,
      });
      try {
        for (const [key, body] of objects) {
          const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
          expect(
            await (object.Body as { transformToString(): Promise<string> }).transformToString(),
          ).toBe(body);
          expect(object.ContentType).toBe('image/png');
          expect(object.Metadata).toEqual({ 'generation-id': key });
          expect(object.ETag).toBe(etags.get(key));
        }
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
        expect((listed.Contents ?? []).map((object) => object.Key)).toEqual(
          [...objects.keys()].sort(s3Order),
        );
        // Nothing of the old layout is left.
        expect((await readdir(join(directory, BUCKET))).sort()).toEqual(['._S3rver_objects']);
        expect(await readFile(join(directory, '.layout'), 'utf8')).toMatch(/SHA-256/);
      } finally {
        s3.destroy();
        await storage.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
