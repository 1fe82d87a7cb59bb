import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import * as GenerationErrors from '#shared/generation/errors.ts';
import { CODE_BY_ERROR_NAME, classifyFailure } from '#shared/generation/failures.ts';
import * as ImageErrors from '#shared/images/errors.ts';
import * as SparkErrors from '#shared/spark/errors.ts';
import { DOCUMENTED_CODES } from './documented-codes.ts';

const lambdaCause = (errorType: string, errorMessage: string) =>
  JSON.stringify({ errorType, errorMessage, trace: ['at secret/internal.ts:1'] });

describe('classifyFailure', () => {
  it.each(DOCUMENTED_CODES)('gives %s its documented code and message', (name, code) => {
    expect(classifyFailure({ Error: name, Cause: lambdaCause(name, 'what happened') })).toEqual({
      code,
      message: 'what happened',
    });
  });

  it.each([
    ['SparkRejectedError', 'Spark create answered HTTP 400 (003001009: size)', '003001009'],
    ['SparkHttpError', 'Spark poll answered HTTP 404 (003001098)', '003001098'],
    ['SparkHttpError', 'Spark create answered HTTP 404 (003001099)', '003001099'],
  ])('reads the code of %s from its message', (name, message, code) => {
    expect(classifyFailure({ Error: name, Cause: lambdaCause(name, message) }).code).toBe(code);
  });

  it('treats a step timeout as a timeout', () => {
    expect(classifyFailure({ Error: 'States.Timeout', Cause: 'Task timed out' })).toEqual({
      code: ErrorCodes.GENERATION_TIMED_OUT,
      message: 'A workflow step timed out',
    });
  });

  it.each([
    [
      {
        Error: 'TypeError',
        Cause: lambdaCause('TypeError', 'x is undefined at /var/task/index.mjs'),
      },
    ],
    [{ Error: 'Lambda.Unknown', Cause: 'The cause could not be determined' }],
    [{}],
  ])('hides the internals of an unknown error behind 090003009', (caught) => {
    const failure = classifyFailure(caught);
    expect(failure.code).toBe(ErrorCodes.INTERNAL_ERROR);
    expect(failure.message).not.toContain('/var/task');
    expect(failure.message).not.toContain('undefined');
  });
});

describe('the names classifyFailure knows', () => {
  /** The `name` of every concrete error class the workflow's functions can throw. */
  const thrown = new Set(
    [GenerationErrors, ImageErrors, SparkErrors].flatMap((module) =>
      Object.values(module)
        .filter(
          (value): value is new (message: string, options: object) => Error =>
            typeof value === 'function' && value.prototype instanceof Error,
        )
        .flatMap((ErrorClass) => {
          try {
            return [new ErrorClass('message', {}).name];
          } catch {
            return []; // abstract, or another constructor shape
          }
        }),
    ),
  );

  it.each(Object.keys(CODE_BY_ERROR_NAME).filter((name) => !name.startsWith('States.')))(
    'include %s, which an error class of the functions is named',
    (name) => {
      expect(thrown).toContain(name);
    },
  );
});
