/** Pre-signed, time-limited GET URLs for the stored images shown in API answers. */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** Lifetime of the URLs unless configured (`PRESIGNED_URL_TTL_SECONDS`). */
export const DEFAULT_PRESIGNED_URL_TTL_SECONDS = 3600;

/** Makes the URL callers fetch an image with. */
export type Presign = (image: { readonly bucket: string; readonly key: string }) => Promise<string>;

/** Signs locally with the function's credentials: no request is made to S3. */
export function s3Presigner(
  client: S3Client,
  expiresInSeconds: number = DEFAULT_PRESIGNED_URL_TTL_SECONDS,
): Presign {
  return (image) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: image.bucket, Key: image.key }), {
      expiresIn: expiresInSeconds,
    });
}
