/**
 * A function's failure as its caller sees it (Step Functions, API Gateway, an asynchronous
 * invoke): Lambda's error shape `{errorType, errorMessage, trace}`, where `errorType` is the
 * thrown error's `name` or one of Lambda's own (`Sandbox.Timedout`, `Runtime.ExitError` …). The
 * error's own `name` is the type and its message the JSON cause, as Step Functions hands them to a
 * Retry or Catch.
 */
export class LambdaFunctionError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];

  constructor(errorType: string, errorMessage: string, trace: readonly string[] = []) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
    this.errorType = errorType;
    this.errorMessage = errorMessage;
    this.trace = trace;
  }
}

/** Lambda's limit on a synchronous invocation's request: the event as JSON, in bytes. */
export const MAX_SYNC_REQUEST_BYTES = 6_291_456;

/**
 * Lambda's refusal of an invocation whose event is over its request limit (HTTP 413 from the
 * Invoke API): the function never runs, no environment is started. Named as Step Functions names
 * the Lambda service's errors (`Lambda.<exception>`); `code` is the Invoke API's own name, which
 * API Gateway turns into its 413 `Request Too Long`.
 */
export class LambdaRequestTooLargeError extends Error {
  override readonly name = 'Lambda.RequestEntityTooLargeException';
  readonly code = 'RequestEntityTooLargeException';
  readonly statusCode = 413;
  /** The event's size as JSON, in bytes. */
  readonly bytes: number;

  constructor(bytes: number) {
    super(
      `Request must be smaller than ${MAX_SYNC_REQUEST_BYTES} bytes for the InvokeFunction operation`,
    );
    this.bytes = bytes;
  }
}
