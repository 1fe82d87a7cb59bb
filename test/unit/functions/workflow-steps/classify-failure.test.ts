import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { CODE_BY_ERROR_NAME } from '#shared/generation/failures.ts';
import { DOCUMENTED_CODES } from '../../shared/generation/documented-codes.ts';
import { caughtAs, classifyFailure, context } from './support.ts';

describe('ClassifyFailure', () => {
  it('answers the documented code of a caught error', async () => {
    const caught = {
      Error: 'SparkThrottledError',
      Cause: JSON.stringify({ errorType: 'SparkThrottledError', errorMessage: 'slow down' }),
    };
    expect(await classifyFailure(caught, context)).toEqual({
      code: ErrorCodes.PROVIDER_THROTTLED,
      message: 'slow down',
    });
  });
});

describe('ClassifyFailure, every error it knows', () => {
  const fixed = DOCUMENTED_CODES;

  it('is given a row below for every error name with a fixed code', () => {
    expect(Object.keys(CODE_BY_ERROR_NAME).sort()).toEqual(
      [...fixed.map(([name]) => name), 'States.Timeout'].sort(),
    );
  });

  it.each(fixed)('answers %s with %s and the error message', async (name, code) => {
    expect(await classifyFailure(caughtAs({ name, message: `${name} happened` }), context)).toEqual(
      {
        code,
        message: `${name} happened`,
      },
    );
  });

  it('answers a step timeout with the timeout code and a message of its own', async () => {
    expect(
      await classifyFailure(
        { Error: 'States.Timeout', Cause: 'Task timed out after 30 s' },
        context,
      ),
    ).toEqual({ code: ErrorCodes.GENERATION_TIMED_OUT, message: 'A workflow step timed out' });
  });

  it.each([
    [
      'SparkRejectedError',
      'Spark create answered HTTP 400 (003001002: prompt)',
      ErrorCodes.INVALID_PROMPT_LENGTH,
    ],
    [
      'SparkRejectedError',
      'Spark create answered HTTP 422 (003001006: ratio 123456789 too wide)',
      ErrorCodes.INVALID_ASPECT_RATIO,
    ],
    ['SparkHttpError', 'Spark poll answered HTTP 404 (003001098)', ErrorCodes.STATUS_CHECK_ERROR],
    // Its own code comes last, after the provider's detail and whatever code that carries.
    [
      'SparkHttpError',
      'Spark poll answered HTTP 404 (090009004: No task x) (003001098)',
      ErrorCodes.STATUS_CHECK_ERROR,
    ],
    [
      'SparkHttpError',
      'Spark create answered HTTP 409 (001: busy) (003001099)',
      ErrorCodes.TASK_CREATION_ERROR,
    ],
    ['SparkHttpError', 'Spark poll answered HTTP 418', ErrorCodes.HTTP_ERROR_RESPONSE],
  ])('reads the code of %s from its message (%s)', async (name, message, code) => {
    expect(await classifyFailure(caughtAs({ name, message }), context)).toEqual({ code, message });
  });

  it.each([
    [caughtAs({ name: 'TypeError', message: 'x is undefined at /var/task/index.mjs:1' })],
    [{ Error: 'GetParameterError', Cause: 'secret arn:aws:secretsmanager:... not found' }],
    [{ Error: 'Lambda.Unknown', Cause: 'The cause could not be determined' }],
    [{}],
  ])(
    'answers an error it does not know with the internal code, passing no message on (%o)',
    async (caught) => {
      const answer = (await classifyFailure(caught, context)) as { code: string; message: string };
      expect(answer.code).toBe(ErrorCodes.INTERNAL_ERROR);
      expect(answer.message).toMatch(/^Internal pipeline error \(/);
      expect(answer.message).not.toMatch(/var\/task|secretsmanager|undefined|determined/);
    },
  );
});
