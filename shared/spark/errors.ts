/**
 * Typed errors of the Spark client. Each says whether the same call may succeed later
 * (`retryable`); the client never retries by itself, the workflow's Retry policy does, routing on
 * these names.
 */

import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

export type SparkOperation = 'create' | 'poll';

interface SparkErrorOptions {
  readonly operation: SparkOperation;
  readonly httpStatus?: number;
  readonly cause?: unknown;
}

/** Base of every Spark client error. */
export abstract class SparkError extends PipelineError {
  readonly operation: SparkOperation;
  readonly httpStatus: number | undefined;

  constructor(message: string, options: SparkErrorOptions) {
    super(message, { cause: options.cause });
    this.operation = options.operation;
    this.httpStatus = options.httpStatus;
  }
}

/** HTTP 429: the provider asks us to slow down; `retryAfterSeconds` is its `Retry-After`. */
export class SparkThrottledError extends SparkError {
  override readonly name = 'SparkThrottledError';
  readonly code = ErrorCodes.PROVIDER_THROTTLED;
  readonly retryable = true;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: SparkErrorOptions & { retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** HTTP 5xx from the provider. */
export class SparkServerError extends SparkError {
  override readonly name = 'SparkServerError';
  readonly code = ErrorCodes.HTTP_ERROR_RESPONSE;
  readonly retryable = true;
}

/** The provider did not answer (headers and body) within the request timeout. */
export class SparkTimeoutError extends SparkError {
  override readonly name = 'SparkTimeoutError';
  readonly code = ErrorCodes.PROVIDER_TIMEOUT;
  readonly retryable = true;
}

/** The connection failed (refused, reset, DNS). */
export class SparkNetworkError extends SparkError {
  override readonly name = 'SparkNetworkError';
  readonly code = ErrorCodes.PROVIDER_UNREACHABLE;
  readonly retryable = true;
}

/**
 * A 2xx answer whose body does not parse as the wire format. Retryable: a poll that comes back
 * garbled is asked again a bounded number of times before the generation fails with 003001096.
 */
export class SparkResponseParseError extends SparkError {
  override readonly name = 'SparkResponseParseError';
  readonly code = ErrorCodes.RESULT_PARSING_ERROR;
  readonly retryable = true;
}

/** 401/403: the API key is missing or wrong. Trying again cannot help. */
export class SparkAuthError extends SparkError {
  override readonly name = 'SparkAuthError';
  readonly code = ErrorCodes.PROVIDER_UNAUTHORIZED;
  readonly retryable = false;
}

/** A 4xx answer carrying the provider's own code (a validation failure, usually). */
export class SparkRejectedError extends SparkError {
  override readonly name = 'SparkRejectedError';
  readonly code: string;
  readonly retryable = false;

  constructor(message: string, options: SparkErrorOptions & { code: string }) {
    super(message, options);
    this.code = options.code;
  }
}

/** Any other answer we cannot act on (an unexpected status, a 404 for our own task). */
export class SparkHttpError extends SparkError {
  override readonly name = 'SparkHttpError';
  readonly code: string;
  readonly retryable = false;

  constructor(message: string, options: SparkErrorOptions) {
    const code =
      options.operation === 'create'
        ? ErrorCodes.TASK_CREATION_ERROR
        : ErrorCodes.STATUS_CHECK_ERROR;
    // The code goes in the message too: a Step Functions Catch only sees name and message.
    super(`${message} (${code})`, options);
    this.code = code;
  }
}

/**
 * Names the workflow retries on (with backoff and jitter); everything else goes to Catch. Written
 * out rather than read from the classes, whose own names a minified bundle changes.
 */
export const RETRYABLE_SPARK_ERRORS = [
  'SparkThrottledError',
  'SparkServerError',
  'SparkTimeoutError',
  'SparkNetworkError',
] as const satisfies ReadonlyArray<
  (SparkThrottledError | SparkServerError | SparkTimeoutError | SparkNetworkError)['name']
>;
