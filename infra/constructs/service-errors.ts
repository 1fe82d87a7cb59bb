/**
 * The error names the workflow routes on that no code of ours throws: raised by Step Functions'
 * service integrations, by Lambda itself, or by the AWS SDK inside a function from a service's
 * answer. Besides these and `States.*`, a Retry or Catch may name only an error its state's
 * function throws, whose name that function's bundle carries as a string literal
 * (test/infra/error-routing.test.ts; docs/decisions.md D20). Where AWS documents each name is in
 * docs/decisions.md D20, beside the table.
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

/**
 * Step Functions' Lambda integration: an error the function did not report itself, such as running
 * out of memory or its timeout (Step Functions documents both under this name).
 */
export const LAMBDA_UNKNOWN = 'Lambda.Unknown';

/*
 * How Step Functions names a service integration's errors: `<Service>.<the exception's class in
 * the AWS SDK for Java>`. AWS's examples are class names, not the service's error codes:
 * `Lambda.AWSLambdaException` and `Lambda.SdkClientException` are the SDK's base and client-side
 * classes, and the DynamoDB page says the optimized integration's prefix is `DynamoDB` while the
 * SDK integrations' is `DynamoDb`, the two SDK generations' spelling of the service. An error
 * code the SDK has no class for takes the service's base class: `DynamoDB.AmazonDynamoDBException`.
 * So DynamoDB's `RequestLimitExceeded` code arrives as `DynamoDB.RequestLimitExceededException`,
 * its 500 (`InternalServerError`) as `DynamoDB.InternalServerErrorException`, and its
 * `ThrottlingException`, which has no class, as the base class (docs/decisions.md D27).
 */

/** Step Functions' DynamoDB integration: DynamoDB's answer, named `DynamoDB.<SDK class>`. */
export const DYNAMODB_TRANSIENT_ERRORS = [
  // DynamoDB: the table's or a partition's throughput was exceeded.
  'DynamoDB.ProvisionedThroughputExceededException',
  // DynamoDB: the account's request limit was exceeded (code RequestLimitExceeded).
  'DynamoDB.RequestLimitExceededException',
  // DynamoDB: an internal error of the service (HTTP 500, code InternalServerError).
  'DynamoDB.InternalServerErrorException',
  // Any other error of DynamoDB's, throttling (ThrottlingException) and 503s among them. Also a
  // request DynamoDB refuses as invalid: a bounded retry of these idempotent writes costs little.
  'DynamoDB.AmazonDynamoDBException',
] as const;

/** DynamoDB, through Step Functions: a conditional write found its condition false. */
export const CONDITION_FAILED = 'DynamoDB.ConditionalCheckFailedException';

/** Step Functions' EventBridge integration: PutEvents failed. */
export const EVENTBRIDGE_TRANSIENT_ERRORS = [
  // Step Functions: PutEvents answered a non-zero FailedEntryCount (an entry throttled, or
  // refused by an internal failure, are the cases a retry can get past).
  'EventBridge.FailedEntry',
  // EventBridge: an internal error of its service (its API's InternalException).
  'EventBridge.InternalException',
  // Any other error of EventBridge's, throttling among them: its SDK's base class, spelled as
  // the SDK for Java's two generations spell it (AWS does not say which the integration uses).
  'EventBridge.AmazonEventBridgeException',
  'EventBridge.EventBridgeException',
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
  // A service's HTTP 503 answer, one of the errors common to AWS APIs (DynamoDB's and Step
  // Functions' API references list it): the JavaScript SDK names an error it has no class for by
  // its code.
  'ServiceUnavailable',
] as const;

/** Where an integration's errors come from: the resource of the Task state that meets them. */
export type ServiceErrorSource = 'lambda' | 'dynamodb' | 'eventbridge';

/**
 * The table: which service-raised names a Task state of each integration may route on. A Lambda
 * task meets the SDK's names too, since they fail its function.
 */
export const SERVICE_ERRORS: Readonly<Record<ServiceErrorSource, readonly string[]>> = {
  lambda: [...LAMBDA_SERVICE_ERRORS, LAMBDA_TIMED_OUT, LAMBDA_UNKNOWN, ...SDK_TRANSIENT_ERRORS],
  dynamodb: [...DYNAMODB_TRANSIENT_ERRORS, CONDITION_FAILED],
  eventbridge: [...EVENTBRIDGE_TRANSIENT_ERRORS],
};

/** Every name of the table. */
export type ServiceErrorName =
  | (typeof LAMBDA_SERVICE_ERRORS)[number]
  | typeof LAMBDA_TIMED_OUT
  | typeof LAMBDA_UNKNOWN
  | (typeof DYNAMODB_TRANSIENT_ERRORS)[number]
  | typeof CONDITION_FAILED
  | (typeof EVENTBRIDGE_TRANSIENT_ERRORS)[number]
  | (typeof SDK_TRANSIENT_ERRORS)[number];
