/**
 * `Idempotency-Key` on POST /generations, with Powertools idempotency: the record of a key lives
 * 24 h in the idempotency table (partition key `id`, TTL attribute `expiration`). The key is the
 * owner with the header value, so owners never share keys; the body is validated against the
 * stored record, so the same key with another body is a conflict rather than a replay.
 *
 * Only POST /generations imports this module (through `submit-config.ts`): the other routes'
 * bundles carry no idempotency code (docs/decisions.md D17).
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { ConflictError } from './errors.ts';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
/** Stable across deployments (the default, the function name, would change with it). */
export const IDEMPOTENCY_KEY_PREFIX = 'spark-t2i/submit-generation';

/** What is handed to the idempotent operation: the key parts and the body they must match. */
export interface IdempotentSubmission {
  readonly owner: string;
  readonly idempotencyKey: string;
  /** The parsed request body; its canonical JSON is hashed for payload validation. */
  readonly body: unknown;
}

/** The persistence of idempotency records in the DynamoDB table `tableName`. */
export function idempotencyStore(
  tableName: string,
  client: DynamoDBClient = new DynamoDBClient({}),
): BasePersistenceLayer {
  return new DynamoDBPersistenceLayer({
    tableName,
    keyAttr: 'id',
    expiryAttr: 'expiration',
    awsSdkV3Client: client,
  });
}

/** Keyed on owner and header value, validated on the body, kept 24 h. */
export function submitIdempotencyConfig(): IdempotencyConfig {
  return new IdempotencyConfig({
    eventKeyJmesPath: '[owner, idempotencyKey]',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
    hashFunction: 'sha256',
    throwOnNoIdempotencyKey: true,
  });
}

export interface SubmitIdempotency {
  readonly persistenceStore: BasePersistenceLayer;
  /** @default {@link submitIdempotencyConfig} */
  readonly config?: IdempotencyConfig;
  /** @default IDEMPOTENCY_KEY_PREFIX */
  readonly keyPrefix?: string;
  /** How long a duplicate waits for the first request with its key to finish. @default IN_PROGRESS_WAIT */
  readonly inProgressWait?: InProgressWait;
}

export interface InProgressWait {
  readonly attempts: number;
  readonly delayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * A duplicate that arrives while the first request with its key is under way (a client retrying
 * a slow answer, two workers sending the same job) waits for it: the first takes tens of
 * milliseconds (a record write and a StartExecution), after which the duplicate gets the same
 * answer, or 409 if its body differs. Only past this wait does it get 409 "still in progress".
 */
export const IN_PROGRESS_WAIT: InProgressWait = { attempts: 30, delayMs: 100 };

/** The start of a submission, keyed by its first argument. */
export type SubmissionStart<Submission extends object, Result> = (
  key: IdempotentSubmission,
  submission: Submission,
  requestId: string,
) => Promise<Result>;

/**
 * A submission's start made idempotent: one start per key, the same answer for a replay (a
 * duplicate arriving while the first is in progress waits for it), and a 409 for the same key
 * with another body or while the first is still in progress after that wait. The Lambda
 * context, when given, bounds an in-progress record by the invocation's remaining time.
 */
export type IdempotentStart<Submission extends object, Result> = (
  key: IdempotentSubmission,
  submission: Submission,
  requestId: string,
  lambdaContext?: Context,
) => Promise<Result>;

export type IdempotentStarts = <Submission extends object, Result>(
  start: SubmissionStart<Submission, Result>,
) => IdempotentStart<Submission, Result>;

/** `Idempotency-Key` support for the submissions, with Powertools idempotency. */
export function idempotentStarts(idempotency: SubmitIdempotency): IdempotentStarts {
  const config = idempotency.config ?? submitIdempotencyConfig();
  return <Submission extends object, Result>(start: SubmissionStart<Submission, Result>) => {
    const startOnce = makeIdempotent(start as SubmissionStart<object, unknown>, {
      persistenceStore: idempotency.persistenceStore,
      config,
      keyPrefix: idempotency.keyPrefix ?? IDEMPOTENCY_KEY_PREFIX,
      dataIndexArgument: 0,
    });
    const wait = idempotency.inProgressWait ?? IN_PROGRESS_WAIT;
    const sleep = wait.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
    const attempt = async (
      key: IdempotentSubmission,
      submission: object,
      requestId: string,
    ): Promise<Result> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await startOnce(key, submission, requestId)) as Result;
        } catch (error) {
          if (!(error instanceof IdempotencyAlreadyInProgressError) || attempt >= wait.attempts) {
            throw error;
          }
          await sleep(wait.delayMs);
        }
      }
    };
    return async (key, submission, requestId, lambdaContext) => {
      if (lambdaContext) config.registerLambdaContext(lambdaContext);
      try {
        return await attempt(key, submission, requestId);
      } catch (error) {
        if (error instanceof IdempotencyValidationError) {
          throw new ConflictError(
            ErrorCodes.API_IDEMPOTENCY_CONFLICT,
            'This Idempotency-Key was already used with a different body',
            { cause: error },
          );
        }
        if (error instanceof IdempotencyAlreadyInProgressError) {
          throw new ConflictError(
            ErrorCodes.API_IDEMPOTENCY_CONFLICT,
            'A request with this Idempotency-Key is still in progress; retry shortly',
            { cause: error },
          );
        }
        throw error;
      }
    };
  };
}
