/**
 * The workflow's retry catalogue: what each kind of task retries on, and how. Every Retry backs
 * off exponentially with full jitter; only transient errors are retried (throttling, 5xx, Lambda's
 * own failures), never the provider's validation codes.
 */
import { Duration } from 'aws-cdk-lib';
import { JitterType, type RetryProps } from 'aws-cdk-lib/aws-stepfunctions';
import type * as GenerationErrors from '#shared/generation/errors.ts';
import type * as ImageErrors from '#shared/images/errors.ts';
import type * as SparkErrors from '#shared/spark/errors.ts';
import { RETRYABLE_SPARK_ERRORS } from '#shared/spark/errors.ts';
import {
  DYNAMODB_TRANSIENT_ERRORS,
  EVENTBRIDGE_TRANSIENT_ERRORS,
  LAMBDA_SERVICE_ERRORS,
  LAMBDA_TIMED_OUT,
  LAMBDA_UNKNOWN,
  SDK_TRANSIENT_ERRORS,
  type ServiceErrorName,
} from '../service-errors.ts';

/** A class that `new` can make: not an abstract one. */
type Concrete<Instance> = new (...args: never) => Instance;
/** The `name` of each concrete error class a module exports (an abstract class names nothing). */
type ErrorNamesOf<Module> = {
  [Export in keyof Module]: Module[Export] extends Concrete<infer Instance extends Error>
    ? Instance['name']
    : never;
}[keyof Module];

/**
 * What a Retry or Catch may name: Step Functions' own errors, a service's (`service-errors.ts`),
 * or one the workflow's functions throw, by the literal name its class sets. A misspelt or
 * unknown name fails the type check; test/infra/error-routing.test.ts checks that each state's
 * function bundle carries the names of ours (docs/decisions.md D20).
 */
export type RoutedErrorName =
  | `States.${string}`
  | ServiceErrorName
  | ErrorNamesOf<typeof GenerationErrors>
  | ErrorNamesOf<typeof ImageErrors>
  | ErrorNamesOf<typeof SparkErrors>;

/** The names a Retry or Catch matches, each checked against {@link RoutedErrorName}. */
export const errorNames = (...names: readonly RoutedErrorName[]): string[] => [...names];

/** Every error: what each task's Catch to the failure path matches. */
export const ANY_ERROR = errorNames('States.ALL');

/**
 * Lambda's timeout (by either of the names it can arrive under) and the AWS SDK's throttling met
 * inside the slot functions (DynamoDB, Step Functions): every slot step is idempotent, so trying
 * it again is always safe.
 */
const SLOT_TRANSIENT_ERRORS = [LAMBDA_TIMED_OUT, LAMBDA_UNKNOWN, ...SDK_TRANSIENT_ERRORS] as const;

/** Retry of throttled and failing provider calls, as the stack may tune it. */
export type ProviderRetryProps = Pick<
  RetryProps,
  'interval' | 'maxAttempts' | 'backoffRate' | 'maxDelay'
>;

const TRANSIENT: RetryProps = {
  interval: Duration.seconds(1),
  maxAttempts: 4,
  backoffRate: 2,
  maxDelay: Duration.seconds(20),
  jitterStrategy: JitterType.FULL,
};

/** A few more tries of a failure that is usually transient but not worth many. */
const BOUNDED: RetryProps = {
  interval: Duration.seconds(2),
  maxAttempts: 3,
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
  jitterStrategy: JitterType.FULL,
};

/** The Retry sets of the workflow's tasks, in the order each task adds them. */
export function retryCatalogue(providerRetry: ProviderRetryProps = {}) {
  const provider: RetryProps = {
    interval: Duration.seconds(2),
    maxAttempts: 5,
    backoffRate: 2,
    maxDelay: Duration.seconds(30),
    ...providerRetry,
    jitterStrategy: JitterType.FULL,
  };
  return {
    /** Lambda's own transient failures, for a function that is not idempotent beyond them. */
    lambdaService: { errors: errorNames(...LAMBDA_SERVICE_ERRORS), ...TRANSIENT },
    /** A slot function (idempotent): Lambda's failures, its timeout, the SDK's throttling. */
    slotFunction: {
      errors: errorNames(...LAMBDA_SERVICE_ERRORS, ...SLOT_TRANSIENT_ERRORS),
      ...TRANSIENT,
    },
    /** Throttling and 5xx of the provider. */
    provider: { errors: errorNames(...RETRYABLE_SPARK_ERRORS), ...provider },
    /** A poll answer that did not parse. */
    garbledPoll: { errors: errorNames('SparkResponseParseError'), ...BOUNDED },
    /** An image download that failed or came back truncated. */
    imageDownload: { errors: errorNames('ImageDownloadError', 'ImageTruncatedError'), ...BOUNDED },
    dynamoDb: { errors: errorNames(...DYNAMODB_TRANSIENT_ERRORS), ...TRANSIENT },
    eventBridge: { errors: errorNames(...EVENTBRIDGE_TRANSIENT_ERRORS), ...TRANSIENT },
  };
}

export type RetryCatalogue = ReturnType<typeof retryCatalogue>;
