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
