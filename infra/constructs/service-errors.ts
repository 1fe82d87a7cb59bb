/**
 * The error names the workflow routes on that no code of ours throws: raised by Step Functions'
 * service integrations, by Lambda itself, or by the AWS SDK inside a function from a service's
 * answer. Besides these and `States.*`, a Retry or Catch may name only an error its state's
 * function throws, whose name that function's bundle carries as a string literal
 * (test/infra/error-routing.test.ts; docs/decisions.md D20).
 */

/** Step Functions' Lambda integration: the invocation failed in Lambda's service, not in our code. */
export const LAMBDA_SERVICE_ERRORS = [
  // Step Functions: its call to Lambda's Invoke API timed out.
  'Lambda.ClientExecutionTimeoutException',
  // Lambda: an internal error of its service (HTTP 500).
  'Lambda.ServiceException',
  // Lambda: any other error of its service.
  'Lambda.AWSLambdaException',
  // Step Functions: its client could not reach Lambda or read its answer.
  'Lambda.SdkClientException',
  // Lambda: the invocation was throttled (concurrency or request rate).
  'Lambda.TooManyRequestsException',
] as const;

/** Lambda: the error type of an invocation stopped at the function's timeout. */
export const LAMBDA_TIMED_OUT = 'Sandbox.Timedout';

/** Step Functions' DynamoDB integration: DynamoDB's answer, named `DynamoDB.<exception>`. */
export const DYNAMODB_TRANSIENT_ERRORS = [
  // DynamoDB: the table's or a partition's throughput was exceeded.
  'DynamoDB.ProvisionedThroughputExceededException',
  // DynamoDB: the request was throttled.
  'DynamoDB.ThrottlingException',
  // DynamoDB: the account's request limit was exceeded.
  'DynamoDB.RequestLimitExceeded',
  // DynamoDB: an internal error of the service (HTTP 500).
  'DynamoDB.InternalServerErrorException',
] as const;

/** DynamoDB, through Step Functions: a conditional write found its condition false. */
export const CONDITION_FAILED = 'DynamoDB.ConditionalCheckFailedException';

/** Step Functions' EventBridge integration: PutEvents failed in EventBridge's service. */
export const EVENTBRIDGE_TRANSIENT_ERRORS = [
  // EventBridge: an error of its service.
  'EventBridge.EventBridgeException',
  // EventBridge: an internal error of its service.
  'EventBridge.InternalException',
  // EventBridge: the request was throttled.
  'EventBridge.ThrottlingException',
] as const;

/**
 * The AWS SDK inside a function: errors it raises from a service's answer (named by the service's
 * error code) or its own timeout, which fail the invocation with that name. The bundle need not
 * carry them: an error the service answers with is named from its answer.
 */
export const SDK_TRANSIENT_ERRORS = [
  // The SDK's HTTP handler (@smithy/node-http-handler): a request to a service timed out.
  'TimeoutError',
  // DynamoDB's answer: the table's or a partition's throughput was exceeded.
  'ProvisionedThroughputExceededException',
  // DynamoDB's or Step Functions' answer: the request was throttled.
  'ThrottlingException',
  // DynamoDB's answer: the account's request limit was exceeded.
  'RequestLimitExceeded',
  // DynamoDB's answer: an internal error of the service (HTTP 500).
  'InternalServerError',
  // A service's HTTP 503 answer (one of the errors common to AWS APIs).
  'ServiceUnavailable',
] as const;

/** Where an integration's errors come from: the resource of the Task state that meets them. */
export type ServiceErrorSource = 'lambda' | 'dynamodb' | 'eventbridge';

/**
 * The table: which service-raised names a Task state of each integration may route on. A Lambda
 * task meets the SDK's names too, since they fail its function.
 */
export const SERVICE_ERRORS: Readonly<Record<ServiceErrorSource, readonly string[]>> = {
  lambda: [...LAMBDA_SERVICE_ERRORS, LAMBDA_TIMED_OUT, ...SDK_TRANSIENT_ERRORS],
  dynamodb: [...DYNAMODB_TRANSIENT_ERRORS, CONDITION_FAILED],
  eventbridge: [...EVENTBRIDGE_TRANSIENT_ERRORS],
};

/** Every name of the table. */
export type ServiceErrorName =
  | (typeof LAMBDA_SERVICE_ERRORS)[number]
  | typeof LAMBDA_TIMED_OUT
  | (typeof DYNAMODB_TRANSIENT_ERRORS)[number]
  | typeof CONDITION_FAILED
  | (typeof EVENTBRIDGE_TRANSIENT_ERRORS)[number]
  | (typeof SDK_TRANSIENT_ERRORS)[number];
