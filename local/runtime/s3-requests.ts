/**
 * What the local S3 server reads from a request before s3rver's routes do, so that every key S3
 * accepts reaches the store as itself (docs/decisions.md, D28):
 *
 * - The key in the path. s3rver's router takes the key as the path's segments, so a key with an
 *   empty segment (`a//b`, `/etc/x`, `x//`) matches no route. The path is rewritten with the key
 *   (percent-decoded once, as S3 decodes it) as one encoded segment, which the router decodes
 *   back to the same key.
 * - The copy source. s3rver reads `x-amz-copy-source` with `decodeURI`, which leaves `%2B`, `%3F`,
 *   `%23`, `%24` … encoded, so a copy of `a+b` looks for `a%2Bb`. The header is decoded as S3
 *   does and handed on in the form s3rver's `decodeURI` reads back exactly.
 * - Listings (ListObjectsV2 and ListObjects), answered here from the store's. s3rver builds the
 *   continuation token (and `NextMarker`) from the page's last key only (a page ending in a
 *   common prefix lists that prefix again on the next page, and one holding only prefixes
 *   fails), counts only keys in `KeyCount`, cannot read back a token whose key holds a line
 *   break, and ignores `encoding-type=url`.
 */

import type S3rver from 's3rver';
import { METHODS } from 's3rver/lib/controllers/bucket.js';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import S3Error from 's3rver/lib/models/error.js';
import type { AtomicFilesystemStore } from './s3-store.ts';

/** The parts of Koa's context used here. */
interface S3Context {
  readonly method: string;
  path: string;
  readonly query: Record<string, string | string[] | undefined>;
  readonly headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** S3's own cap on a listing's page. */
const MAX_KEYS_CAP = 1000;

/**
 * Puts the request handling above in the server, right before s3rver's router (after its own
 * request logging, XML encoding of answers and virtual-host rewriting). Throws if s3rver has no
 * router where this expects one, so an s3rver that changed is noticed at start.
 */
export function serveKeysAsNames(server: S3rver, store: AtomicFilesystemStore): void {
  const routerAt = server.middleware.findIndex((middleware) => middleware.router !== undefined);
  if (routerAt === -1) throw new Error('s3rver has no router to put the key handling before');
  server.middleware.splice(routerAt, 0, async (ctx: S3Context, next: () => Promise<void>) => {
    const path = /^\/([^/]+)(?:\/(.*))?$/s.exec(ctx.path);
    if (path === null) return next();
    const bucket = decodeSegment(path[1] as string);
    const rest = path[2] ?? '';
    if (rest !== '') {
      ctx.path = `/${encodeURIComponent(bucket)}/${encodeURIComponent(decodeSegment(rest))}`;
      const copySource = single(ctx.headers['x-amz-copy-source']);
      if (copySource !== undefined) ctx.headers['x-amz-copy-source'] = readCopySource(copySource);
      return next();
    }
    if (ctx.method === 'GET' && !Object.keys(ctx.query).some((name) => METHODS.includes(name))) {
      return listObjects(ctx, store, bucket);
    }
    return next();
  });
}

/** Percent-decoded once, as S3 reads a path; `InvalidURI` if it is not valid UTF-8 escapes. */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", { URI: raw });
  }
}

/**
 * `x-amz-copy-source` (`[/]bucket/key[?versionId=…]`, URL-encoded) as `/bucket/key` in the form
 * s3rver decodes with `decodeURI`: `encodeURI` escapes nothing `decodeURI` leaves alone. There is
 * one version of an object here, so a version id names it.
 */
function readCopySource(header: string): string {
  const [path = ''] = header.split('?', 1);
  const source = decodeSegment(path.startsWith('/') ? path.slice(1) : path);
  const slash = source.indexOf('/');
  if (slash <= 0) {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key', {
      ArgumentName: 'x-amz-copy-source',
      ArgumentValue: header,
    });
  }
  return `/${encodeURI(source.slice(0, slash))}/${encodeURI(source.slice(slash + 1))}`;
}

/** ListObjectsV2 (`list-type=2`: start-after, continuation tokens) or ListObjects (`marker`). */
async function listObjects(
  ctx: S3Context,
  store: AtomicFilesystemStore,
  bucket: string,
): Promise<void> {
  if (!(await store.getBucket(bucket))) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
      BucketName: bucket,
    });
  }
  const parameter = (name: string) => single(ctx.query[name]);
  const encodingType = parameter('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: encodingType,
    });
  }
  const maxKeys = readMaxKeys(parameter('max-keys'));
  const prefix = parameter('prefix') ?? '';
  const delimiter = parameter('delimiter') ?? '';
  const version2 = parameter('list-type') === '2';
  const startAfter = parameter(version2 ? 'start-after' : 'marker');
  const continuationToken = version2 ? parameter('continuation-token') : undefined;
  const listing =
    maxKeys === 0
      ? { objects: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined }
      : await store.listObjects(bucket, {
          prefix,
          delimiter,
          startAfter:
            continuationToken === undefined
              ? (startAfter ?? '')
              : readContinuationToken(continuationToken, bucket),
          maxKeys: Math.min(maxKeys, MAX_KEYS_CAP),
        });
  const encode = encodingType === 'url' ? s3UrlEncode : (text: string) => text;
  // Version 1 always names the owner; version 2 when asked.
  const fetchOwner = !version2 || parameter('fetch-owner') === 'true';
  const next = listing.isTruncated ? listing.lastEntry : undefined;
  ctx.body = {
    ListBucketResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Name: bucket,
      Prefix: encode(prefix),
      ...(version2
        ? {
            StartAfter: startAfter === undefined ? undefined : encode(startAfter),
            ContinuationToken: continuationToken,
            NextContinuationToken:
              next === undefined ? undefined : continuationTokenAfter(bucket, next),
            KeyCount: listing.objects.length + listing.commonPrefixes.length,
          }
        : {
            Marker: encode(startAfter ?? ''),
            // Given only with a delimiter, as S3 does (without one, the last key is the marker).
            NextMarker: next === undefined || delimiter === '' ? undefined : encode(next),
          }),
      MaxKeys: maxKeys,
      Delimiter: delimiter === '' ? undefined : encode(delimiter),
      EncodingType: encodingType,
      IsTruncated: listing.isTruncated,
      Contents: listing.objects.map((object) => ({
        Key: encode(object.key),
        LastModified: object.lastModifiedDate.toISOString(),
        ETag: object.metadata.etag,
        Size: object.size,
        ...(fetchOwner && {
          Owner: { ID: DUMMY_ACCOUNT.id, DisplayName: DUMMY_ACCOUNT.displayName },
        }),
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: listing.commonPrefixes.map((commonPrefix) => ({
        Prefix: encode(commonPrefix),
      })),
    },
  };
}

function readMaxKeys(raw: string | undefined): number {
  if (raw === undefined) return MAX_KEYS_CAP;
  const maxKeys = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(maxKeys) || maxKeys > 2_147_483_647) {
    throw new S3Error(
      'InvalidArgument',
      'Provided max-keys not an integer or within integer range',
      {
        ArgumentName: 'max-keys',
        ArgumentValue: raw,
      },
    );
  }
  return maxKeys;
}

/** A page's continuation: where the next one starts, opaque to the client as S3's is. */
function continuationTokenAfter(bucket: string, lastEntry: string): string {
  return Buffer.from(JSON.stringify({ bucket, after: lastEntry }), 'utf8').toString('base64url');
}

function readContinuationToken(token: string, bucket: string): string {
  try {
    const read = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      bucket?: unknown;
      after?: unknown;
    };
    if (read.bucket === bucket && typeof read.after === 'string') return read.after;
  } catch {
    // Not a token of ours: answered below.
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    ArgumentName: 'continuation-token',
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * S3's URL encoding of a key where it sends one as text: in a listing asked for with
 * `encoding-type=url`, and in an event notification's `s3.object.key`. S3 documents the event's
 * key as URL encoded as `application/x-www-form-urlencoded` encodes (`red flower.jpg` arrives as
 * `red+flower.jpg`), with its slashes as they are: each UTF-8 byte other than a letter, a digit,
 * `*`, `-`, `.`, `_` or `/` becomes `%XX`, and a space `+`.
 */
export function s3UrlEncode(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+')
    .replaceAll('%2F', '/');
}
