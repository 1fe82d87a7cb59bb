/**
 * Turns a Step Functions error (the `Error` and `Cause` a Catch hands on) into the documented
 * code and a message fit for the record. Messages of errors we do not know are not passed on:
 * they may carry internals.
 */
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';
import type { GenerationError } from './model.ts';

/** A caught error as Step Functions hands it on (`ResultPath` of a Catch). */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** The error names with a fixed code (exported so tests can check every one is covered). */
export const CODE_BY_ERROR_NAME: Readonly<Record<string, ErrorCode>> = {
  SparkThrottledError: ErrorCodes.PROVIDER_THROTTLED,
  SparkServerError: ErrorCodes.HTTP_ERROR_RESPONSE,
  SparkTimeoutError: ErrorCodes.PROVIDER_TIMEOUT,
  SparkNetworkError: ErrorCodes.PROVIDER_UNREACHABLE,
  SparkResponseParseError: ErrorCodes.RESULT_PARSING_ERROR,
  SparkAuthError: ErrorCodes.PROVIDER_UNAUTHORIZED,
  ImageDownloadError: ErrorCodes.IMAGE_DOWNLOAD_FAILED,
  ImageTruncatedError: ErrorCodes.IMAGE_TRUNCATED,
  ImageUrlRefusedError: ErrorCodes.IMAGE_URL_REFUSED,
  ImageUrlExpiredError: ErrorCodes.IMAGE_URL_EXPIRED,
  ImageTooLargeError: ErrorCodes.IMAGE_TOO_LARGE,
  NotAnImageError: ErrorCodes.IMAGE_NOT_AN_IMAGE,
  'States.Timeout': ErrorCodes.GENERATION_TIMED_OUT,
};

/** Errors whose code is not fixed by their name: the code is in their message. */
const CODE_IN_MESSAGE = new Set(['SparkRejectedError', 'SparkHttpError']);

export function classifyFailure(caught: CaughtError): GenerationError {
  const name = caught.Error ?? 'States.TaskFailed';
  const cause = parseCause(caught.Cause);
  const message = cause.errorMessage ?? caught.Cause ?? name;
  if (CODE_IN_MESSAGE.has(name)) {
    // A rejection names the provider's code first; SparkHttpError appends its own code after
    // the provider's detail (which may carry a code of the provider's), so its code is the last.
    const codes = message.match(/\b\d{9}\b/g) ?? [];
    const code = name === 'SparkHttpError' ? codes.at(-1) : codes[0];
    return { code: code ?? ErrorCodes.HTTP_ERROR_RESPONSE, message };
  }
  const code = CODE_BY_ERROR_NAME[name];
  if (code)
    return { code, message: name === 'States.Timeout' ? 'A workflow step timed out' : message };
  return { code: ErrorCodes.INTERNAL_ERROR, message: `Internal pipeline error (${name})` };
}

/** A Lambda error's Cause is JSON `{errorType, errorMessage, trace}`; others are plain text. */
function parseCause(cause: string | undefined): { errorType?: string; errorMessage?: string } {
  if (!cause) return {};
  try {
    const parsed = JSON.parse(cause) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { errorType, errorMessage } = parsed as Record<string, unknown>;
      return {
        ...(typeof errorType === 'string' && { errorType }),
        ...(typeof errorMessage === 'string' && { errorMessage }),
      };
    }
  } catch {
    // Not JSON: a plain-text cause.
  }
  return {};
}
