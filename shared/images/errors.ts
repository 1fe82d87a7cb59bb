/** Typed errors of the image copy. Step Functions retries the retryable ones a bounded number of times. */

import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

/** The download failed (HTTP 404/5xx, reset, timeout). */
export class ImageDownloadError extends PipelineError {
  override readonly name = 'ImageDownloadError';
  readonly code = ErrorCodes.IMAGE_DOWNLOAD_FAILED;
  readonly retryable = true;
}

/** Fewer bytes arrived than the Content-Length promised. */
export class ImageTruncatedError extends PipelineError {
  override readonly name = 'ImageTruncatedError';
  readonly code = ErrorCodes.IMAGE_TRUNCATED;
  readonly retryable = true;
}

/** The URL is not one we fetch: scheme, credentials, host, or an address inside the network. */
export class ImageUrlRefusedError extends PipelineError {
  override readonly name = 'ImageUrlRefusedError';
  readonly code = ErrorCodes.IMAGE_URL_REFUSED;
  readonly retryable = false;
}

/** The provider's pre-signed URL has expired (HTTP 403). */
export class ImageUrlExpiredError extends PipelineError {
  override readonly name = 'ImageUrlExpiredError';
  readonly code = ErrorCodes.IMAGE_URL_EXPIRED;
  readonly retryable = false;
}

export class ImageTooLargeError extends PipelineError {
  override readonly name = 'ImageTooLargeError';
  readonly code = ErrorCodes.IMAGE_TOO_LARGE;
  readonly retryable = false;
}

/** The body is not a PNG, JPEG or WebP image (by content type or by its first bytes). */
export class NotAnImageError extends PipelineError {
  override readonly name = 'NotAnImageError';
  readonly code = ErrorCodes.IMAGE_NOT_AN_IMAGE;
  readonly retryable = false;
}
