/** The Lambda context a handler is invoked with, for tests that call handlers directly. */
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  /** @default 'spark-t2i-test' */
  readonly functionName?: string;
  /** @default 'lambda-request-1' */
  readonly requestId?: string;
  /** What `getRemainingTimeInMillis` answers. @default 30 s */
  readonly remainingMs?: number;
  /** @default 256 */
  readonly memoryMb?: number;
}

export function lambdaContext(options: LambdaContextOptions = {}): Context {
  const functionName = options.functionName ?? 'spark-t2i-test';
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 256),
    awsRequestId: options.requestId ?? 'lambda-request-1',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2024/01/01/[$LATEST]0123456789',
    getRemainingTimeInMillis: () => options.remainingMs ?? 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
