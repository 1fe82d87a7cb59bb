/**
 * Moving a data dir written by s3rver's own layout (each key a path under its bucket) to the
 * local S3 store's (every file of an object named by the SHA-256 of its key; docs/decisions.md,
 * D28).
 */
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';
import { syncPath, writeAtomically } from '#local/runtime/s3-store/durable-files.ts';
import {
  AtomicFilesystemStore,
  BUCKET_NAME,
  OBJECTS_DIRECTORY,
  UPLOADS_DIRECTORY,
} from '#local/runtime/s3-store.ts';

/** In the store's directory once its objects are laid out by key hash. */
const LAYOUT_MARKER = '.layout';
const LAYOUT = 'objects named by the SHA-256 of their key\n';
const LEGACY_OBJECT = '._S3rver_object';

/**
 * Moves the objects of a store written by s3rver's own layout to this store's, once: each object
 * file with its ETag, metadata and tags goes under its key's hash, with the key (its path under
 * the bucket) kept in its metadata; what is left of the old layout is then removed, and a marker
 * says the directory is done. Only for a directory no running server writes to (before the server
 * starts). Killed half-way, the next start finishes the move: an object is moved by a rename, the
 * last step of each.
 */
export async function migrateLegacyLayout(directory: string): Promise<{ moved: number }> {
  await mkdir(directory, { recursive: true });
  const marker = join(directory, LAYOUT_MARKER);
  if ((await readFile(marker, 'utf8').catch(() => undefined)) === LAYOUT) return { moved: 0 };
  const store = new AtomicFilesystemStore(directory);
  let moved = 0;
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (!entry.isDirectory() || !BUCKET_NAME.test(entry.name)) continue;
    moved += await migrateBucket(store, entry.name);
  }
  await writeAtomically(marker, LAYOUT);
  return { moved };
}

async function migrateBucket(store: AtomicFilesystemStore, bucket: string): Promise<number> {
  const bucketPath = store.getBucketPath(bucket);
  const files = (await readdir(bucketPath, { recursive: true, withFileTypes: true })).filter(
    (entry) => entry.isFile(),
  );
  const own = (path: string) => {
    const top = relative(bucketPath, path).split(sep)[0];
    return top === OBJECTS_DIRECTORY || top === UPLOADS_DIRECTORY;
  };
  await mkdir(join(bucketPath, OBJECTS_DIRECTORY), { recursive: true });
  let moved = 0;
  for (const file of files) {
    const path = join(file.parentPath, file.name);
    if (own(path) || !file.name.endsWith(LEGACY_OBJECT)) continue;
    const legacy = path.slice(0, -LEGACY_OBJECT.length);
    // The path under the bucket, less the suffix: `x/._S3rver_object` is the key `x/`.
    const key = FilesystemStore.decodeKeyPath(
      relative(bucketPath, path).split(sep).join('/').slice(0, -LEGACY_OBJECT.length),
    );
    const metadata = await readFile(`${legacy}._S3rver_metadata.json`, 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => ({}));
    await store.putMetadata(bucket, key, metadata);
    const md5 = store.getResourcePath(bucket, key, 'object.md5');
    await rm(md5, { force: true });
    await rename(`${path}.md5`, md5).catch(() => undefined);
    await rename(
      `${legacy}._S3rver_tagging.xml`,
      store.getResourcePath(bucket, key, 'tagging.xml'),
    ).catch(() => undefined);
    await rename(path, store.getResourcePath(bucket, key, 'object'));
    moved++;
  }
  // What is left of the old layout: its directories and the files of objects now moved. The
  // bucket's own configuration (`._S3rver_cors.xml`, `._S3rver_website.xml`) stays.
  for (const entry of await readdir(bucketPath, { withFileTypes: true })) {
    if (entry.name === OBJECTS_DIRECTORY || entry.name === UPLOADS_DIRECTORY) continue;
    if (entry.isFile() && /^\._S3rver_[a-z]+\.xml$/.test(entry.name)) continue;
    await rm(join(bucketPath, entry.name), { recursive: true, force: true });
  }
  // The moves are on disk before the marker says they are done.
  await syncPath(join(bucketPath, OBJECTS_DIRECTORY));
  return moved;
}
