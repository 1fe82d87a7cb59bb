/**
 * The AWS SDK as the functions' bundles carry it (`functionBuildOptions`: minified, aliased, the
 * S3 schemas rewritten by the bundler), in a fresh process, against the local S3 server: the
 * requests it writes and the answers it reads are the unbundled SDK's.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionBuildOptions } from '../../infra/constructs/bundling.ts';
import { type LocalStorage, startLocalStorage } from '../../local/runtime/storage.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** What the bundled script does: the S3 calls the functions make, and one answer of each. */
const SCRIPT = `
import { S3Client, PutObjectCommand, HeadObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: process.env.ACCESS_KEY_ID, secretAccessKey: process.env.SECRET_ACCESS_KEY } });
const Bucket = process.env.BUCKET;
const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'images/a b.png', Body: 'png bytes', ContentType: 'image/png', CacheControl: 'max-age=60', Metadata: { generation: 'g_1' } }));
const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'images/a b.png' }));
const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'images/a b.png', Range: 'bytes=0-2' }));
const part = Buffer.alloc(5 * 1024 * 1024 + 7, 1);
const upload = await new Upload({ client: s3, params: { Bucket, Key: 'images/big.bin', Body: Buffer.concat([part, part]) } }).done();
const list = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'images/' }));
let missing;
try { await s3.send(new GetObjectCommand({ Bucket, Key: 'images/none' })); } catch (error) { missing = { name: error.name, status: error.$metadata.httpStatusCode }; }
await s3.send(new DeleteObjectCommand({ Bucket, Key: 'images/big.bin' }));
console.log(JSON.stringify({
  putETag: put.ETag,
  head: { type: head.ContentType, length: head.ContentLength, cacheControl: head.CacheControl, metadata: head.Metadata, etag: head.ETag },
  range: { body: await got.Body.transformToString(), contentRange: got.ContentRange },
  uploadKey: upload.Key,
  listed: list.Contents.map(({ Key, Size }) => ({ Key, Size })),
  missing,
}));
`;

describe('the SDK as bundled for the functions', () => {
  let storage: LocalStorage;
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'spark-t2i-bundled-sdk-'));
    storage = await startLocalStorage({
      dataDir: join(directory, 'data'),
      template: { Resources: { Images: { Type: 'AWS::S3::Bucket' } } },
    });
  });
  afterAll(async () => {
    await storage?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('puts, reads, uploads in parts, lists and answers NoSuchKey on the local S3 server', async () => {
    const outfile = join(directory, 'index.mjs');
    await build({
      ...functionBuildOptions({ entry: 'unused', outfile }),
      entryPoints: undefined,
      stdin: { contents: SCRIPT, resolveDir: PROJECT_ROOT, loader: 'js' },
    });

    const { stdout } = await run(process.execPath, ['--enable-source-maps', outfile], {
      env: {
        ...process.env,
        S3_ENDPOINT: storage.s3Endpoint,
        BUCKET: storage.buckets[0],
        ACCESS_KEY_ID: storage.credentials.accessKeyId,
        SECRET_ACCESS_KEY: storage.credentials.secretAccessKey,
      },
      timeout: 60_000,
    });
    const answers = JSON.parse(stdout);

    expect(answers).toMatchObject({
      putETag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      head: {
        type: 'image/png',
        length: 9,
        cacheControl: 'max-age=60',
        metadata: { generation: 'g_1' },
      },
      range: { body: 'png', contentRange: 'bytes 0-2/9' },
      uploadKey: 'images/big.bin',
      listed: [
        { Key: 'images/a b.png', Size: 9 },
        { Key: 'images/big.bin', Size: 2 * (5 * 1024 * 1024 + 7) },
      ],
      missing: { name: 'NoSuchKey', status: 404 },
    });
    expect(answers.head.etag).toBe(answers.putETag);
  });
});
