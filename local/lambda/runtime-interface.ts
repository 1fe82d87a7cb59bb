/**
 * The runtime inside a local function's process: what `/var/runtime/index.mjs` is on Lambda. It
 * loads the handler `_HANDLER` names from `LAMBDA_TASK_ROOT`, then takes invocations one at a
 * time from the Lambda Runtime API at `AWS_LAMBDA_RUNTIME_API` (the protocol Lambda's own
 * runtime interface clients speak), and answers each with the handler's result or its error in
 * Lambda's shape, `{errorType: <the error's name>, errorMessage, trace}`.
 *
 * It imports nothing but Node's builtins, and those through `process.getBuiltinModule`, so the
 * process holds what it holds on Lambda: the function's bundle and a small runtime.
 */
import type { Agent as HttpAgent, IncomingMessage, RequestOptions } from 'node:http';
import type { pathToFileURL as PathToFileUrl } from 'node:url';

const http = process.getBuiltinModule('node:http') as typeof import('node:http');
const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
const path = process.getBuiltinModule('node:path') as typeof import('node:path');
const { pathToFileURL } = process.getBuiltinModule('node:url') as {
  pathToFileURL: typeof PathToFileUrl;
};

const API_VERSION = '/2018-06-01/runtime';
/** The extensions the managed runtime tries for a handler's module, in its order. */
const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs'];

type Handler = (event: unknown, context: unknown) => unknown;

interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API ?? '').split(':');
const agent: HttpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(
  method: 'GET' | 'POST',
  route: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ response: IncomingMessage; body: string }> {
  const options: RequestOptions = {
    host: apiHost,
    port: Number(apiPort),
    path: `${API_VERSION}${route}`,
    method,
    agent,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  };
  return new Promise((resolve, reject) => {
    const request = http.request(options, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ response, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Lambda's error shape: a thrown primitive is reported by its type, as the managed runtime does. */
function lambdaError(error: unknown, errorType?: string): LambdaError {
  if (error instanceof Error) {
    return {
      errorType: errorType ?? error.name,
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: errorType ?? typeof error, errorMessage: String(error), trace: [] };
}

function postError(route: string, error: LambdaError): Promise<unknown> {
  return call('POST', route, JSON.stringify(error), {
    'lambda-runtime-function-error-type': error.errorType,
  });
}

/** `index.handler` → the `handler` export of `<task root>/index.{js,mjs,cjs}`. */
async function loadHandler(): Promise<Handler> {
  const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const spec = process.env._HANDLER ?? '';
  const slash = spec.lastIndexOf('/');
  const dot = spec.indexOf('.', slash + 1);
  if (dot <= slash + 1) {
    throw Object.assign(new Error(`Bad handler ${spec}`), { name: 'Runtime.MalformedHandlerName' });
  }
  const modulePath = path.resolve(taskRoot, spec.slice(0, dot));
  const file = [...MODULE_EXTENSIONS, '.ts']
    .map((extension) => `${modulePath}${extension}`)
    .find((candidate) => fs.existsSync(candidate));
  if (file === undefined) {
    throw Object.assign(new Error(`Cannot find module '${spec.slice(0, dot)}'`), {
      name: 'Runtime.ImportModuleError',
    });
  }
  let target: unknown = await import(pathToFileURL(file).href);
  for (const part of spec.slice(dot + 1).split('.')) {
    target = (target as Record<string, unknown> | undefined)?.[part];
  }
  if (typeof target !== 'function') {
    throw Object.assign(new Error(`${spec} is undefined or not exported`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  return target as Handler;
}

function contextOf(headers: IncomingMessage['headers']) {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const deadline = Number(header('lambda-runtime-deadline-ms'));
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: header('lambda-runtime-invoked-function-arn') ?? '',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    awsRequestId: header('lambda-runtime-aws-request-id') ?? '',
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** The invocation being handled, so an error outside the handler's promise still answers it. */
let current: string | undefined;
let crashing = false;

async function crash(error: unknown, errorType?: string): Promise<never> {
  // As the managed runtime does: a process whose state is unknown is reported and not reused.
  // Errors met while reporting (the service gone, its pipes closed) change nothing.
  if (!crashing) {
    crashing = true;
    const reported = lambdaError(error, errorType);
    const route = current === undefined ? '/init/error' : `/invocation/${current}/error`;
    try {
      process.stderr.write(`${JSON.stringify(reported)}\n`);
      await postError(route, reported);
    } catch {}
  }
  process.exit(1);
}

// The environment ends with the service that runs it: the service holds this process's stdin
// open and never writes to it, so its end means the service is gone (killed, even), as on Lambda
// no environment outlives its sandbox.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

process.on('uncaughtException', (error) => void crash(error));
process.on(
  'unhandledRejection',
  (reason) => void crash(reason, 'Runtime.UnhandledPromiseRejection'),
);

const handler = await loadHandler().catch((error: unknown) => crash(error));
for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = String(next.response.headers['lambda-runtime-aws-request-id'] ?? '');
  const traceId = next.response.headers['lambda-runtime-trace-id'];
  if (typeof traceId === 'string') process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
  current = id;
  try {
    const result = await handler(JSON.parse(next.body), contextOf(next.response.headers));
    await call('POST', `/invocation/${id}/response`, JSON.stringify(result ?? null));
  } catch (error) {
    await postError(`/invocation/${id}/error`, lambdaError(error));
  }
  current = undefined;
}
