/**
 * The documented code of every error name a workflow step can throw with a fixed code: written
 * out here, apart from `CODE_BY_ERROR_NAME`, so the tests hold the code to the documentation.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';

export const DOCUMENTED_CODES: ReadonlyArray<readonly [name: string, code: string]> = [
  ['SparkThrottledError', ErrorCodes.PROVIDER_THROTTLED],
  ['SparkServerError', ErrorCodes.HTTP_ERROR_RESPONSE],
  ['SparkTimeoutError', ErrorCodes.PROVIDER_TIMEOUT],
  ['SparkNetworkError', ErrorCodes.PROVIDER_UNREACHABLE],
  ['SparkResponseParseError', ErrorCodes.RESULT_PARSING_ERROR],
  ['SparkAuthError', ErrorCodes.PROVIDER_UNAUTHORIZED],
  ['ImageDownloadError', ErrorCodes.IMAGE_DOWNLOAD_FAILED],
  ['ImageTruncatedError', ErrorCodes.IMAGE_TRUNCATED],
  ['ImageUrlRefusedError', ErrorCodes.IMAGE_URL_REFUSED],
  ['ImageUrlExpiredError', ErrorCodes.IMAGE_URL_EXPIRED],
  ['ImageTooLargeError', ErrorCodes.IMAGE_TOO_LARGE],
  ['NotAnImageError', ErrorCodes.IMAGE_NOT_AN_IMAGE],
];
