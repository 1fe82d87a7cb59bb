/**
 * The local Lambda runs each function as Lambda does: in processes of its own started with the
 * bootstrap's flags, with exactly the environment Lambda gives it, one invocation at a time per
 * warm process, killed at its timeout, and its errors in Lambda's shape.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapNodeFlags } from '../../../../infra/lambda-bootstrap.ts';
import { PROJECT_ROOT } from '../../../../infra/project-root.ts';
import {
  LambdaFunctionError,
  LambdaRequestTooLargeError,
  MAX_SYNC_REQUEST_BYTES,
} from '../../../../local/lambda/errors.ts';
import { nodeForRuntime, provideRuntimeScript } from '../../../../local/lambda/node-runtime.ts';
import { type LocalFunction, LocalLambda } from '../../../../local/lambda/service.ts';

/** A handler module: what each test function does, chosen by the event's `do`. */
const HANDLER = `
class QuotaExceeded extends Error {
  constructor(message) { super(message); this.name = 'QuotaExceeded'; }
}
if (process.env.FAIL_AT_INIT) throw new TypeError('bad configuration');
if (process.env.SLOW_INIT_MS) await new Promise((resolve) => setTimeout(resolve, Number(process.env.SLOW_INIT_MS)));
export const handler = async (event, context) => {
  switch (event.do) {
    case 'describe':
      return {
        pid: process.pid,
        env: process.env,
        execArgv: process.execArgv,
        remaining: context.getRemainingTimeInMillis(),
        requestId: context.awsRequestId,
      };
    case 'throw':
      throw new QuotaExceeded('over the limit');
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      return { pid: process.pid };
    case 'exit':
      process.exit(3);
    case 'size':
      return { length: event.data.length };
  }
  return null;
};
`;

let dir: string;
let taskRoot: string;
let runtime: { runtimeDir: string; runtimeScript: string };
const lambdas: LocalLambda[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-lambda-'));
  taskRoot = join(dir, 'task');
  await mkdir(taskRoot);
  await writeFile(join(taskRoot, 'index.mjs'), HANDLER);
  runtime = await provideRuntimeScript(dir);
});
afterEach(() => {
  for (const lambda of lambdas.splice(0)) lambda.close();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function localLambda(
  fn: Partial<LocalFunction> = {},
  maxEnvironments = 4,
  initLimitMs?: number,
): LocalLambda {
  const lambda = new LocalLambda({
    functions: {
      Fn: {
        logicalId: 'Fn',
        entryPoint: 'fn',
        environment: { TABLE_NAME: 'generations' },
        timeoutSeconds: 5,
        memorySize: 256,
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        ...fn,
      },
    },
    code: () => ({ taskRoot, handler: 'index.handler', faithful: true }),
    node: nodeForRuntime('nodejs24.x', PROJECT_ROOT),
    ...runtime,
    runtimeModules: join(dir, 'node_modules'),
    region: 'us-east-1',
    credentials: () => ({ accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' }),
    localEnvironment: () => ({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' }),
    maxEnvironments,
    ...(initLimitMs !== undefined && { initLimitMs }),
  });
  lambdas.push(lambda);
  return lambda;
}

type Described = {
  pid: number;
  env: Record<string, string>;
  execArgv: string[];
  remaining: number;
  requestId: string;
};

async function failureOf(promise: Promise<unknown>): Promise<LambdaFunctionError> {
  const error = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(LambdaFunctionError);
  return error as LambdaFunctionError;
}

describe('the local Lambda', () => {
  it("starts a function's process as the bootstrap does, with exactly Lambda's environment", async () => {
    process.env.SPARK_T2I_NOT_FOR_FUNCTIONS = 'leaked';
    try {
      const described = (await localLambda().invoke('Fn', { do: 'describe' })) as Described;
      expect(described.execArgv).toEqual(bootstrapNodeFlags(256));
      const { env } = described;
      expect(env).not.toHaveProperty('SPARK_T2I_NOT_FOR_FUNCTIONS');
      expect(env).toMatchObject({
        TABLE_NAME: 'generations',
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
        _HANDLER: 'index.handler',
        AWS_LAMBDA_FUNCTION_NAME: 'Fn',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
        LAMBDA_TASK_ROOT: taskRoot,
        TZ: ':UTC',
      });
      // Nothing else of the parent's: every name is the template's, Lambda's or the twin's.
      for (const name of Object.keys(env)) {
        expect(
          ['TABLE_NAME', 'AWS_ENDPOINT_URL_S3', '_X_AMZN_TRACE_ID'].includes(name) ||
            /^(AWS_|LAMBDA_|_HANDLER$|LANG$|TZ$|PATH$|NODE_PATH$)/.test(name),
          name,
        ).toBe(true);
      }
      expect(described.remaining).toBeGreaterThan(4000);
      expect(described.remaining).toBeLessThanOrEqual(5000);
    } finally {
      delete process.env.SPARK_T2I_NOT_FOR_FUNCTIONS;
    }
  });

  it('reports a thrown error with its name as the error type, as Step Functions routes on it', async () => {
    const error = await failureOf(localLambda().invoke('Fn', { do: 'throw' }));
    expect(error.name).toBe('QuotaExceeded');
    expect(error.errorType).toBe('QuotaExceeded');
    expect(error.errorMessage).toBe('over the limit');
    expect(JSON.parse(error.message)).toMatchObject({
      errorType: 'QuotaExceeded',
      errorMessage: 'over the limit',
    });
    expect(error.trace.join('\n')).toContain('QuotaExceeded: over the limit');
  });

  it('reuses a warm process, and starts more while invocations overlap', async () => {
    const lambda = localLambda();
    const first = (await lambda.invoke('Fn', { do: 'describe' })) as Described;
    const again = (await lambda.invoke('Fn', { do: 'describe' })) as Described;
    expect(again.pid).toBe(first.pid);
    expect(again.requestId).not.toBe(first.requestId);
    const overlapping = (await Promise.all(
      [0, 1, 2].map(() => lambda.invoke('Fn', { do: 'sleep', ms: 300 })),
    )) as Array<{ pid: number }>;
    expect(new Set(overlapping.map((result) => result.pid)).size).toBe(3);
    expect(lambda.environments()).toEqual({ Fn: 3 });
  });

  it('runs no more processes than the reserved concurrency: the rest wait for one', async () => {
    const lambda = localLambda({ reservedConcurrency: 1 });
    const started = Date.now();
    const results = (await Promise.all(
      [0, 1, 2].map(() => lambda.invoke('Fn', { do: 'sleep', ms: 200 })),
    )) as Array<{ pid: number }>;
    expect(new Set(results.map((result) => result.pid)).size).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });

  it('kills a process at its timeout and reports Sandbox.Timedout; the next call gets a new one', async () => {
    const lambda = localLambda({ timeoutSeconds: 1 });
    const warm = (await lambda.invoke('Fn', { do: 'describe' })) as Described;
    const error = await failureOf(lambda.invoke('Fn', { do: 'sleep', ms: 5000 }));
    expect(error.errorType).toBe('Sandbox.Timedout');
    expect(error.errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
    const after = (await lambda.invoke('Fn', { do: 'describe' })) as Described;
    expect(after.pid).not.toBe(warm.pid);
  });

  it('lets an init past its limit go on within the function timeout, as a suppressed init does', async () => {
    const lambda = localLambda(
      { timeoutSeconds: 3, environment: { SLOW_INIT_MS: '1200' } },
      4,
      300,
    );
    const described = (await lambda.invoke('Fn', { do: 'describe' })) as Described;
    // The deadline counts from when the init passed its limit: the rest of the init used it.
    expect(described.remaining).toBeLessThan(3000 - 500);
    expect(described.remaining).toBeGreaterThan(0);
  });

  it('times out an init past its limit that does not end within the function timeout either', async () => {
    const lambda = localLambda(
      { timeoutSeconds: 1, environment: { SLOW_INIT_MS: '5000' } },
      4,
      300,
    );
    const error = await failureOf(lambda.invoke('Fn', { do: 'describe' }));
    expect(error.errorType).toBe('Sandbox.Timedout');
    expect(error.errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
  });

  it('reports a process that exits mid-invocation as Runtime.ExitError', async () => {
    const error = await failureOf(localLambda().invoke('Fn', { do: 'exit' }));
    expect(error.errorType).toBe('Runtime.ExitError');
    expect(error.errorMessage).toMatch(/exit status 3/);
  });

  it('reports an error thrown while the module loads with its name', async () => {
    const lambda = localLambda({ environment: { FAIL_AT_INIT: '1' } });
    const error = await failureOf(lambda.invoke('Fn', { do: 'describe' }));
    expect(error.errorType).toBe('TypeError');
    expect(error.errorMessage).toBe('bad configuration');
  });

  it('starts the runtime through the exec wrapper, and refuses one that is not executable (126)', async () => {
    const wrapper = join(taskRoot, 'wrapper.sh');
    await writeFile(wrapper, '#!/bin/sh\nnode="$1"; shift\nexec "$node" --stack-size=900 "$@"\n');
    const withWrapper = { environment: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } };
    await chmod(wrapper, 0o644);
    const refused = await failureOf(localLambda(withWrapper).invoke('Fn', { do: 'describe' }));
    expect(refused.errorType).toBe('Runtime.ExitError');
    expect(refused.errorMessage).toMatch(/is not an executable \(exit 126\)/);
    await chmod(wrapper, 0o755);
    const described = (await localLambda(withWrapper).invoke('Fn', {
      do: 'describe',
    })) as Described;
    expect(described.execArgv).toEqual(['--stack-size=900', ...bootstrapNodeFlags(256)]);
  });

  it("refuses an event over Lambda's 6,291,456-byte request limit before any environment starts", async () => {
    const lambda = localLambda();
    const records: boolean[] = [];
    lambda.onInvocation((record) => records.push(record.ok));
    // `{"do":"size","data":"…"}` is 23 bytes around the data: this event is exactly the limit.
    const data = 'A'.repeat(MAX_SYNC_REQUEST_BYTES - 23);
    expect(JSON.stringify({ do: 'size', data })).toHaveLength(MAX_SYNC_REQUEST_BYTES);
    const over = await lambda.invoke('Fn', { do: 'size', data: `${data}A` }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(over).toBeInstanceOf(LambdaRequestTooLargeError);
    expect(over).toMatchObject({
      name: 'Lambda.RequestEntityTooLargeException',
      code: 'RequestEntityTooLargeException',
      statusCode: 413,
      bytes: MAX_SYNC_REQUEST_BYTES + 1,
      message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    });
    expect(lambda.environments()).toEqual({});
    expect(await lambda.invoke('Fn', { do: 'size', data })).toEqual({ length: data.length });
    expect(records).toEqual([false, true]);
  });

  it('measures the event as UTF-8 JSON: escapes and multi-byte characters count as sent', async () => {
    const lambda = localLambda();
    // Each "é" is 2 bytes and each newline 2 (its escape): over the limit in half as many characters.
    const data = 'é\n'.repeat(MAX_SYNC_REQUEST_BYTES / 4 + 1);
    expect(data.length).toBeLessThan(MAX_SYNC_REQUEST_BYTES / 2 + 3);
    await expect(lambda.invoke('Fn', { do: 'size', data })).rejects.toThrow(
      LambdaRequestTooLargeError,
    );
    expect(lambda.environments()).toEqual({});
  });
});
