/**
 * Runs the pipeline's Lambda functions in-process: the same handler modules, with a Lambda-shaped
 * context and the environment the stack gives each function. A function error surfaces as Lambda
 * reports it to its caller: an error named by the error type, whose message is the JSON cause
 * `{errorType, errorMessage, trace}` Step Functions hands to a Catch.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import {
  EXEC_WRAPPER_VARIABLE,
  NODE_ARGUMENTS_VARIABLE,
} from '../../infra/constructs/node-arguments.ts';
import { PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';
import type { LocalFunction } from './synthesis.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Read when a process starts only (by Node, or by Lambda to start the runtime through the
 * node-arguments wrapper): per function on Lambda, no meaning in a shared process.
 */
const PROCESS_START_VARIABLES = new Set([
  'NODE_OPTIONS',
  EXEC_WRAPPER_VARIABLE,
  NODE_ARGUMENTS_VARIABLE,
]);

/** What a caller of a failed function sees (Step Functions, API Gateway). */
export class LambdaFunctionError extends Error {
  readonly errorType: string;
  readonly errorMessage: string;

  constructor(errorType: string, errorMessage: string) {
    super(JSON.stringify({ errorType, errorMessage, trace: [] }));
    this.name = errorType;
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}

export interface InvocationRecord {
  readonly functionLogicalId: string;
  readonly durationMs: number;
  readonly ok: boolean;
}

export class LocalLambda {
  readonly #functions: Readonly<Record<string, LocalFunction>>;
  readonly #handlers = new Map<string, Promise<Handler>>();
  readonly #listeners: Array<(record: InvocationRecord) => void> = [];

  constructor(functions: Readonly<Record<string, LocalFunction>>) {
    this.#functions = functions;
  }

  /**
   * The environment of every function together. Functions share one process here, so names
   * they share must agree; a conflict is a stack error and stops the runtime. What is read when
   * a process starts (`NODE_OPTIONS`, the node-arguments wrapper's variables) is left out: on
   * Lambda each function's own applies to its own process, here the process has started already.
   */
  combinedEnvironment(): Record<string, string> {
    const combined: Record<string, string> = {};
    for (const fn of Object.values(this.#functions)) {
      for (const [name, value] of Object.entries(fn.environment)) {
        if (PROCESS_START_VARIABLES.has(name)) continue;
        if (combined[name] !== undefined && combined[name] !== value) {
          throw new Error(
            `Functions disagree on ${name} (${combined[name]} / ${value}); they cannot share a local process`,
          );
        }
        combined[name] = value;
      }
    }
    return combined;
  }

  /** Called after every invocation (the benchmarks count them). */
  onInvocation(listener: (record: InvocationRecord) => void): void {
    this.#listeners.push(listener);
  }

  /** The logical id of the function an ARN (or name) points at. */
  resolve(arnOrName: string): LocalFunction {
    const name = arnOrName.split(':function:').pop()?.split(':')[0] ?? arnOrName;
    const fn = this.#functions[name];
    if (fn === undefined) throw new Error(`No local function ${arnOrName}`);
    return fn;
  }

  async invoke(arnOrName: string, event: unknown): Promise<unknown> {
    const fn = this.resolve(arnOrName);
    const handler = await this.#handler(fn);
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    const context = lambdaContext(fn, deadline);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LambdaFunctionError(
              'Sandbox.Timedout',
              `Task timed out after ${fn.timeoutSeconds}.00 seconds`,
            ),
          ),
        fn.timeoutSeconds * 1000,
      );
    });
    let ok = false;
    try {
      const result = await Promise.race([handler(event, context), timeout]);
      ok = true;
      // A real invocation crosses a JSON boundary: nothing but JSON comes back.
      return result === undefined ? null : JSON.parse(JSON.stringify(result));
    } catch (error) {
      if (error instanceof LambdaFunctionError) throw error;
      const type = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      throw new LambdaFunctionError(type, message);
    } finally {
      clearTimeout(timer);
      const record = { functionLogicalId: fn.logicalId, durationMs: Date.now() - started, ok };
      for (const listener of this.#listeners) listener(record);
    }
  }

  #handler(fn: LocalFunction): Promise<Handler> {
    let handler = this.#handlers.get(fn.entryPoint);
    if (handler === undefined) {
      const path = join(PROJECT_ROOT, 'functions', fn.entryPoint, 'handler.ts');
      handler = import(path).then((module: { handler?: Handler }) => {
        if (typeof module.handler !== 'function') throw new Error(`${path} exports no handler`);
        return module.handler;
      });
      this.#handlers.set(fn.entryPoint, handler);
    }
    return handler;
  }
}

function lambdaContext(fn: LocalFunction, deadline: number): Context {
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn.logicalId}`,
    memoryLimitInMB: String(fn.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
