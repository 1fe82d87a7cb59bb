/**
 * The workflow step CopyImages as a plain function: streams every provider image into the images
 * bucket. The handler in `functions/copy-images` only wires it to its client and configuration.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { UrlPolicy } from '#shared/images/address-guard.ts';
import { copyImage } from '#shared/images/copy.ts';
import type { ImageType } from '#shared/images/sniff.ts';
import type { TaskImage } from '#shared/spark/client.ts';
import type { StoredImage } from './model.ts';

export interface CopyImagesInput {
  readonly id: string;
  readonly owner: string;
  readonly request: { readonly width: number; readonly height: number };
  readonly images: readonly TaskImage[];
}

export interface CopyImagesDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly policy: UrlPolicy;
  readonly maxImageBytes: number;
  readonly timeoutMs: number;
}

export interface CopyImagesResult {
  readonly images: readonly StoredImage[];
  /** The same list as DynamoDB JSON list members, for the success write (`L` of `M`). */
  readonly dynamoImages: readonly AttributeValue[];
}

/** Object key of a stored image: one folder per owner and generation. */
export function imageKey(owner: string, id: string, index: number, contentType: ImageType): string {
  return `images/${owner}/${id}/${index}.${IMAGE_EXTENSIONS[contentType]}`;
}

const IMAGE_EXTENSIONS: Record<ImageType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/**
 * Copies every image into the images bucket. Keys are fixed per generation and index, so a
 * retried copy overwrites rather than duplicates.
 */
export async function copyImagesStep(
  input: CopyImagesInput,
  deps: CopyImagesDeps,
): Promise<CopyImagesResult> {
  const images: StoredImage[] = [];
  for (const [index, image] of input.images.entries()) {
    const copied = await copyImage({
      s3: deps.s3,
      url: image.url,
      bucket: deps.bucket,
      key: (contentType) => imageKey(input.owner, input.id, index, contentType),
      policy: deps.policy,
      maxBytes: deps.maxImageBytes,
      timeoutMs: deps.timeoutMs,
      metadata: { 'generation-id': input.id, ...(image.jobId && { 'spark-job-id': image.jobId }) },
    });
    images.push({
      bucket: copied.bucket,
      key: copied.key,
      size: copied.size,
      sha256: copied.sha256,
      contentType: copied.contentType,
      width: copied.width ?? input.request.width,
      height: copied.height ?? input.request.height,
      ...(image.jobId && { jobId: image.jobId }),
    });
  }
  return { images, dynamoImages: images.map((image) => ({ M: marshall(image) })) };
}
