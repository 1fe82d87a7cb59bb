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
