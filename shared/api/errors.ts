/**
 * Errors of the HTTP API and the one place that turns errors into answers.
 *
 * An {@link HttpError} carries a status, a documented code and a message written for callers;
 * it is safe to show. Every other error is internal: the caller gets 500 `090004099` with a
 * generic message, and only the log sees what happened.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { PipelineError } from '#shared/errors/base.ts';
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';
import { logger as powertoolsLogger } from '#shared/observability/powertools.ts';
import { jsonResponse } from './responses.ts';

export interface HttpErrorOptions {
  /** Machine-readable specifics for the caller (validation failures, limits). */
  readonly details?: readonly unknown[];
  readonly cause?: unknown;
}

/** The error body of every refusal: `{"error":{"code","message","details"?}}`. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly unknown[];
  };
}

/** An error whose status, code and message are meant for the caller. */
export abstract class HttpError extends PipelineError {
  abstract readonly status: number;
  readonly code: ErrorCode;
  readonly retryable = false;
  readonly details?: readonly unknown[];

  constructor(code: ErrorCode, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.details !== undefined) this.details = options.details;
  }

  /** What the caller sees. */
  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details !== undefined && { details: this.details }),
      },
    };
  }
}

/** 400: the request is malformed (body, query, headers) or breaks a validation rule. */
export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError';
  readonly status = 400;
}

/** 401: no owner could be established for the request. */
export class UnauthorizedError extends HttpError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  constructor(message = 'Missing, unknown or revoked API key', options?: HttpErrorOptions) {
    super(ErrorCodes.API_UNAUTHORIZED, message, options);
  }
}

/** 404: no such generation for this owner (another owner's generation is not found either). */
export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  constructor(message = 'No such generation', options?: HttpErrorOptions) {
    super(ErrorCodes.API_NOT_FOUND, message, options);
  }
}

/** 409: the request conflicts with the state of the resource (ended generation, idempotency key). */
export class ConflictError extends HttpError {
  override readonly name = 'ConflictError';
  readonly status = 409;
}

/** 413: the body is larger than the API accepts. */
export class PayloadTooLargeError extends HttpError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  constructor(message: string, options?: HttpErrorOptions) {
    super(ErrorCodes.API_BODY_TOO_LARGE, message, options);
  }
}

/** 415: the body is declared as a format other than JSON (a form, multipart, XML). */
export class UnsupportedMediaTypeError extends HttpError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  constructor(
    message = 'The request body must be JSON, sent as Content-Type: application/json',
    options?: HttpErrorOptions,
  ) {
    super(ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE, message, options);
  }
}

export const INTERNAL_ERROR_MESSAGE = 'Internal error; please try again later';

/** The answer for an error: its own for an {@link HttpError}, a generic 500 for anything else. */
export function errorResponse(error: unknown): APIGatewayProxyResult {
  if (error instanceof HttpError) return jsonResponse(error.status, error.toBody());
  const body: ErrorBody = {
    error: { code: ErrorCodes.API_INTERNAL_ERROR, message: INTERNAL_ERROR_MESSAGE },
  };
  return jsonResponse(500, body);
}

export interface HttpErrorHandlerOptions {
  /** Where errors are logged. @default the Powertools logger */
  readonly logger?: {
    warn(message: string, ...extra: unknown[]): void;
    error(message: string, ...extra: unknown[]): void;
  };
}

/**
 * Middleware turning any error into the API's error answer. Refusals are logged as warnings with
 * their code; anything else is logged in full as an error and answered with a generic 500.
 */
export function httpErrorHandler(
  options: HttpErrorHandlerOptions = {},
): MiddlewareObj<unknown, APIGatewayProxyResult> {
  const log = options.logger ?? powertoolsLogger;
  const httpErrorHandlerOnError = (request: {
    error: unknown;
    response: APIGatewayProxyResult | null | undefined;
  }) => {
    if (request.response !== undefined && request.response !== null) return;
    const error = request.error;
    if (error instanceof HttpError) {
      log.warn('Request refused', {
        status: error.status,
        code: error.code,
        reason: error.message,
      });
    } else {
      log.error('Request failed with an internal error', error as Error);
    }
    request.response = errorResponse(error);
  };
  return { name: 'httpErrorHandler', onError: httpErrorHandlerOnError };
}
