import '../../functions/api/env.ts';
import middy from '@middy/core';
import type { APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  HttpError,
  httpErrorHandler,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '#shared/api/errors.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { EXPECTED_HEADERS, lambdaContext } from '../../functions/api/support.ts';

function quietLogger() {
  return { warn: vi.fn(), error: vi.fn() };
}

function throwing(error: unknown, log = quietLogger()) {
  return middy<unknown, APIGatewayProxyResult>(async () => {
    throw error;
  })
    .use(securityHeaders())
    .use(httpErrorHandler({ logger: log }));
}

describe('httpErrorHandler', () => {
  it.each([
    [new BadRequestError(ErrorCodes.API_INVALID_QUERY, 'limit must be 1-100'), 400],
    [new UnauthorizedError(), 401],
    [new NotFoundError(), 404],
    [new ConflictError(ErrorCodes.API_NOT_CANCELLABLE, 'already completed'), 409],
    [new PayloadTooLargeError('too large'), 413],
    [new UnsupportedMediaTypeError(), 415],
  ])('answers %s with its status, code and message', async (error, status) => {
    // Act
    const result = await throwing(error)({}, lambdaContext());

    // Assess
    expect(result).toEqual({
      statusCode: status,
      headers: EXPECTED_HEADERS,
      body: JSON.stringify({ error: { code: error.code, message: error.message } }),
    });
  });

  it('answers the details of an error that has them', async () => {
    // Prepare
    const details = [{ code: '003001001', message: 'prompt is required', field: 'prompt' }];
    const error = new BadRequestError(ErrorCodes.MISSING_PROMPT, 'prompt is required', { details });

    // Act
    const result = await throwing(error)({}, lambdaContext());

    // Assess
    expect(JSON.parse(result.body)).toEqual({
      error: { code: '003001001', message: 'prompt is required', details },
    });
  });

  it('answers any other error as a generic 500 and logs it in full', async () => {
    // Prepare
    const log = quietLogger();
    const internal = new Error('connect ECONNREFUSED 10.0.3.7:443');

    // Act
    const result = await throwing(internal, log)({}, lambdaContext());

    // Assess
    expect(result).toEqual({
      statusCode: 500,
      headers: EXPECTED_HEADERS,
      body: JSON.stringify({
        error: {
          code: ErrorCodes.API_INTERNAL_ERROR,
          message: 'Internal error; please try again later',
        },
      }),
    });
    expect(log.error).toHaveBeenCalledWith(expect.any(String), internal);
  });

  it('never lets the message of an internal error reach the answer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 4 }), async (message) => {
        // Prepare
        const handler = throwing(new TypeError(`secret:${message}`));

        // Act
        const result = await handler({}, lambdaContext());

        // Assess
        expect(result.statusCode).toBe(500);
        expect(result.body).not.toContain('secret:');
      }),
      { numRuns: 50 },
    );
  });

  it('answers non-Error throws as a generic 500 too', async () => {
    // Act
    const result = await throwing('a string')({}, lambdaContext());

    // Assess
    expect(result.statusCode).toBe(500);
  });
});

describe('securityHeaders', () => {
  it('adds the headers to a successful answer without replacing its own', async () => {
    // Prepare
    const handler = middy<unknown, APIGatewayProxyResult>(async () => ({
      statusCode: 200,
      headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=60' },
      body: 'ok',
    })).use(securityHeaders());

    // Act
    const result = await handler({}, lambdaContext());

    // Assess
    expect(result.headers).toEqual({
      ...EXPECTED_HEADERS,
      'content-type': 'text/plain',
      'cache-control': 'max-age=60',
    });
  });

  it('is on every JSON answer made by jsonResponse', () => {
    // Act
    const result = jsonResponse(202, { id: 'x' });

    // Assess
    expect(result).toEqual({ statusCode: 202, headers: EXPECTED_HEADERS, body: '{"id":"x"}' });
  });
});

describe('HTTP errors', () => {
  it('are pipeline errors with their class name and keep their cause', () => {
    // Prepare
    const cause = new Error('underneath');

    // Act
    const error = new ConflictError(ErrorCodes.API_IDEMPOTENCY_CONFLICT, 'conflict', { cause });

    // Assess
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toBeInstanceOf(PipelineError);
    expect(error.name).toBe('ConflictError');
    expect(error.cause).toBe(cause);
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(409);
  });
});
