/**
 * The local S3 server keeps what it acknowledged: objects PUT concurrently, the server process
 * SIGKILLed the moment the first few answers arrive, then the same data dir served again. Every
 * answered object must come back whole; an unanswered one may be missing (or, overwritten, the
 * old object), but never partial. That the writes are also synced to the disk before the answer
 * is checked call by call in test/unit/local/runtime/s3-store-durability.test.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { type AwsCredentials, adminCredentials } from '../../local/aws/identities.ts';
import { LOCAL_REGION, type LocalStorage, startLocalStorage } from '../../local/runtime/storage.ts';

const CHILD = join(import.meta.dirname, '..', 'helpers', 'storage-child.ts');
const BUCKET = 'durabilitybucket';
const MIB = 1024 * 1024;

function client(endpoint: string, credentials: AwsCredentials): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A killed server answers nothing more; the test wants the error, not retries.
    maxAttempts: 1,
  });
}

async function startChild(dataDir: string): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, [CHILD, dataDir, BUCKET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    createInterface({ input: child.stdout as NodeJS.ReadableStream })
      [Symbol.asyncIterator]()
      .next()
      .then((next) => [next.value as string]),
    new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`exited ${code}`)))),
  ])) as [string];
  return { child, endpoint: (JSON.parse(line) as { s3Endpoint: string }).s3Endpoint };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Files left in the data dir by writes that never finished. */
async function partialFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.partial-/.test(entry.name))
    .map((entry) => entry.name);
}

describe('the local S3 server under SIGKILL', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  /** The storage server in a child process of its own, on a new data dir, to be SIGKILLed. */
  async function startKillable() {
    const dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-s3-kill-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const { child, endpoint } = await startChild(dataDir);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const s3 = client(endpoint, await adminCredentials(dataDir));
    cleanups.push(async () => s3.destroy());
    return { dataDir, child, exited, s3 };
  }

  /** A client of the storage started again, in this process, on the killed one's data dir. */
  async function restart(dataDir: string) {
    const storage: LocalStorage = await startLocalStorage({
      dataDir,
      template: { Resources: { [BUCKET]: { Type: 'AWS::S3::Bucket' } } },
    });
    cleanups.push(async () => storage.close());
    const again = client(storage.s3Endpoint, storage.credentials);
    cleanups.push(async () => again.destroy());
    return again;
  }

  it('keeps every object it answered a PUT for whole, and none half-written', async () => {
    const { dataDir, child, exited, s3 } = await startKillable();

    // Sizes from a few bytes to a few MiB, like images and prompt files.
    const objects = Array.from({ length: 40 }, (_, index) => ({
      key: `images/local/g${index}/0.png`,
      body: randomBytes(index % 4 === 0 ? 3 * MIB + index : 1 + index * 40_000),
    }));
    const answered = new Set<string>();
    const killAfter = 8;
    await Promise.allSettled(
      objects.map(async ({ key, body }) => {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
        answered.add(key);
        // The moment the answer is here: nothing the server does afterwards may be needed.
        if (answered.size === killAfter) child.kill('SIGKILL');
      }),
    );
    await exited;
    expect(answered.size).toBeGreaterThanOrEqual(killAfter);
    // The kill did cut writes short (their temporary files are still there).
    expect((await partialFiles(join(dataDir, 's3'))).length).toBeGreaterThan(0);

    const again = await restart(dataDir);
    const found = await Promise.all(
      objects.map(async ({ key, body }) => {
        try {
          const object = await again.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
          const bytes = await (
            object.Body as { transformToByteArray(): Promise<Uint8Array> }
          ).transformToByteArray();
          return { key, state: sha256(bytes) === sha256(body) ? 'whole' : `${bytes.length} bytes` };
        } catch (error) {
          if (error instanceof NoSuchKey) return { key, state: 'missing' };
          throw error;
        }
      }),
    );
    const answeredStates = found.filter(({ key }) => answered.has(key));
    expect(answeredStates.filter(({ state }) => state !== 'whole')).toEqual([]);
    expect(found.filter(({ state }) => state !== 'whole' && state !== 'missing')).toEqual([]);
    // The restarted server swept what the killed writes left behind.
    expect(await partialFiles(join(dataDir, 's3'))).toEqual([]);
  }, 60_000);

  it('keeps an overwritten object whole, old or new, and new once the overwrite was answered', async () => {
    const { dataDir, child, exited, s3 } = await startKillable();

    const objects = Array.from({ length: 24 }, (_, index) => ({
      key: `prompts/local/p${index}.txt`,
      first: randomBytes(1 + index * 50_000),
      second: randomBytes(index % 3 === 0 ? 2 * MIB + index : 7 + index * 30_000),
    }));
    for (const { key, first } of objects) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: first }));
    }
    const answered = new Set<string>();
    const killAfter = 6;
    await Promise.allSettled(
      objects.map(async ({ key, second }) => {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: second }));
        answered.add(key);
        if (answered.size === killAfter) child.kill('SIGKILL');
      }),
    );
    await exited;
    expect(answered.size).toBeGreaterThanOrEqual(killAfter);

    const again = await restart(dataDir);
    const found = await Promise.all(
      objects.map(async ({ key, first, second }) => {
        const object = await again.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const bytes = await (
          object.Body as { transformToByteArray(): Promise<Uint8Array> }
        ).transformToByteArray();
        const hash = sha256(bytes);
        const state =
          hash === sha256(second)
            ? 'new'
            : hash === sha256(first)
              ? 'old'
              : `${bytes.length} bytes`;
        // The ETag is the stored bytes' MD5, never the other version's.
        const md5 = createHash('md5').update(bytes).digest('hex');
        return { key, state, etagMatches: object.ETag === JSON.stringify(md5) };
      }),
    );
    expect(found.filter(({ key, state }) => answered.has(key) && state !== 'new')).toEqual([]);
    expect(found.filter(({ state }) => state !== 'new' && state !== 'old')).toEqual([]);
    expect(found.filter(({ etagMatches }) => !etagMatches)).toEqual([]);
  }, 60_000);
});
