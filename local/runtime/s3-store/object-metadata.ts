/** What the local S3 store keeps of a PUT's headers as the object's metadata. */
import type { StoredObject } from 's3rver/lib/stores/filesystem.js';
import type { AwsChunkedUpload } from '#local/runtime/aws-chunked.ts';

/** What s3rver keeps of an object's headers (as its own `putMetadata` does). */
export function storedMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(metadata).filter(
      ([name]) => STORED_HEADERS.has(name) || name.startsWith('x-amz-meta-'),
    ),
  );
}

const STORED_HEADERS = new Set([
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-type',
  'expires',
  'x-amz-storage-class',
  'x-amz-website-redirect-location',
]);

/**
 * The PUT's own headers: s3rver hands the request itself over as the content, and keeps only the
 * headers an object stores as its metadata (not `x-amz-trailer` or the decoded length).
 */
export function requestHeaders(object: StoredObject): Record<string, unknown> {
  const content = object.content as { headers?: Record<string, unknown> };
  return Buffer.isBuffer(object.content) || content.headers === undefined
    ? object.metadata
    : content.headers;
}

/** The request's headers as the object keeps them, once its aws-chunked body is decoded. */
export function withoutAwsChunked(
  metadata: Record<string, unknown>,
  chunked: AwsChunkedUpload,
): Record<string, unknown> {
  const { 'content-encoding': _encoding, ...rest } = metadata;
  return chunked.contentEncoding === undefined
    ? rest
    : { ...rest, 'content-encoding': chunked.contentEncoding };
}
