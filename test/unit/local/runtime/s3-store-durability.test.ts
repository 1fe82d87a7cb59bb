/**
 * The local S3 store answers only once what it stored would survive a lost machine: every file it
 * puts in place is synced before its rename, and its directory after, and no object is renamed in
 * before its own bytes and its metadata are on disk. The file system calls are recorded in the
 * order the store makes them.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const name = (path: unknown) => basename(String(path)).replace(/-[0-9a-f]{16}$/, '');
  return {
    ...fs,
    open: (async (path: string, flags?: string) => {
      const handle = await fs.open(path, flags);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        await sync();
        calls.push(`sync ${name(path)}`);
      };
      return handle;
    }) as typeof fs.open,
    rename: (async (from: string, to: string) => {
      await fs.rename(from, to);
      calls.push(`rename ${name(from)} -> ${name(to)}`);
    }) as typeof fs.rename,
    rm: (async (path: string, options?: Parameters<typeof fs.rm>[1]) => {
      await fs.rm(path, options);
      calls.push(`rm ${name(path)}`);
    }) as typeof fs.rm,
  };
});

const { AtomicFilesystemStore } = await import('#local/runtime/s3-store.ts');
const { keyHash } = await import('#local/runtime/s3-store/key-index.ts');

const BUCKET = 'durablebucket';

/** An object as s3rver hands it to the store. */
function stored(key: string, content: Readable | Buffer, metadata: Record<string, unknown>) {
  return { bucket: BUCKET, key, content, metadata };
}

describe('the local S3 store’s writes', () => {
  let directory: string;
  let store: InstanceType<typeof AtomicFilesystemStore>;
  const objectFile = (key: string, resource = 'object') => `${keyHash(key)}.${resource}`;

  beforeEach(async () => {
    directory = mkdtempSync(join(tmpdir(), 'spark-t2i-s3-sync-'));
    store = new AtomicFilesystemStore(directory);
    await mkdir(join(directory, BUCKET));
    calls.length = 0;
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  /** The calls from the first one that matches, so each check reads in order. */
  const callsFrom = (call: string) => calls.slice(calls.indexOf(call));

  it('syncs a PUT’s bytes, then its metadata, then puts it in place and syncs the directory', async () => {
    const key = 'images/local/g1/0.png';
    await store.putObject(
      stored(key, Readable.from([Buffer.from('png bytes')]), {
        'content-type': 'image/png',
      }),
    );
    const object = objectFile(key);
    const metadata = objectFile(key, 'metadata.json');
    expect(calls).toEqual([
      `sync ${object}.partial`,
      `sync ${metadata}.partial`,
      `rename ${metadata}.partial -> ${metadata}`,
      'sync ._S3rver_objects',
      `rename ${object}.partial -> ${object}`,
      'sync ._S3rver_objects',
      `sync ${object}.md5.partial`,
      `rename ${object}.md5.partial -> ${object}.md5`,
      'sync ._S3rver_objects',
    ]);
  });

  it('removes an overwritten object’s ETag durably before the new object is renamed in', async () => {
    const key = 'prompts/alice/list.txt';
    await store.putObject(stored(key, Buffer.from('first'), {}));
    calls.length = 0;
    await store.putObject(stored(key, Buffer.from('second'), {}));
    const object = objectFile(key);
    expect(callsFrom(`rm ${object}.md5`).slice(0, 3)).toEqual([
      `rm ${object}.md5`,
      'sync ._S3rver_objects',
      `rename ${object}.partial -> ${object}`,
    ]);
  });

  it('syncs a copy before it is renamed in, and the directory after', async () => {
    await store.putObject(stored('a', Buffer.from('source'), {}));
    calls.length = 0;
    await store.copyObject(BUCKET, 'a', BUCKET, 'b');
    const object = objectFile('b');
    expect(calls[0]).toBe(`sync ${object}.partial`);
    expect(callsFrom(`rename ${object}.partial -> ${object}`)[1]).toBe('sync ._S3rver_objects');
  });

  it('syncs an upload’s part before it is renamed in, and the directory after', async () => {
    const uploadId = 'f'.repeat(32);
    await store.initiateUpload(BUCKET, 'big', uploadId, {});
    calls.length = 0;
    await store.putPart(BUCKET, uploadId, 1, Readable.from([Buffer.from('part one')]));
    expect(calls.slice(0, 3)).toEqual([
      'sync 1.partial',
      'rename 1.partial -> 1',
      `sync ${uploadId}`,
    ]);
  });

  it('removes a deleted object durably before anything else of it', async () => {
    await store.putObject(stored('gone', Buffer.from('bytes'), {}));
    calls.length = 0;
    await store.deleteObject(BUCKET, 'gone');
    expect(calls.slice(0, 2)).toEqual([`rm ${objectFile('gone')}`, 'sync ._S3rver_objects']);
  });
});
