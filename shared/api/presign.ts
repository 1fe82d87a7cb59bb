/**
 * Pre-signed, time-limited GET URLs for the stored images shown in API answers. Only completed
 * generations have images, so the S3 client and the presigner are loaded when the first URL is
 * made, not at cold start (see shared/aws/lazy.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { LazyClient } from '#shared/aws/lazy.ts';

/** Lifetime of the URLs unless configured (`PRESIGNED_URL_TTL_SECONDS`). */
export const DEFAULT_PRESIGNED_URL_TTL_SECONDS = 3600;

/** Makes the URL callers fetch an image with. */
export type Presign = (image: { readonly bucket: string; readonly key: string }) => Promise<string>;

/** Signs locally with the function's credentials: no request is made to S3. */
export function s3Presigner(
  client: LazyClient<S3Client>,
  expiresInSeconds: number = DEFAULT_PRESIGNED_URL_TTL_SECONDS,
): Presign {
  return async (image) => {
    const [s3, { GetObjectCommand }, { getSignedUrl }] = await Promise.all([
      client(),
      import('@aws-sdk/client-s3'),
      import('@aws-sdk/s3-request-presigner'),
    ]);
    return getSignedUrl(s3, new GetObjectCommand({ Bucket: image.bucket, Key: image.key }), {
      expiresIn: expiresInSeconds,
    });
  };
}

/** A pre-signed PUT whose size and type are part of the signature. */
export type PresignPut = (object: {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  readonly contentType: string;
  readonly expiresInSeconds: number;
}) => Promise<{ url: string; headers: Record<string, string> }>;

/**
 * Signs a PUT of exactly `bytes` bytes of `contentType`: both headers are signed, so S3 refuses
 * an upload of another size or type (SignatureDoesNotMatch) rather than storing it.
 */
export function s3PutPresigner(client: LazyClient<S3Client>): PresignPut {
  return async (object) => {
    const [s3, { PutObjectCommand }, { getSignedUrl }] = await Promise.all([
      client(),
      import('@aws-sdk/client-s3'),
      import('@aws-sdk/s3-request-presigner'),
    ]);
    const command = new PutObjectCommand({
      Bucket: object.bucket,
      Key: object.key,
      ContentLength: object.bytes,
      ContentType: object.contentType,
    });
    const url = await getSignedUrl(s3, command, {
      expiresIn: object.expiresInSeconds,
      signableHeaders: new Set(['content-length', 'content-type']),
    });
    return {
      url,
      headers: { 'content-type': object.contentType, 'content-length': String(object.bytes) },
    };
  };
}
