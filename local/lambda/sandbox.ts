/**
 * One execution environment of a local function: a process started as the managed Node runtime's
 * bootstrap starts it, and the Lambda Runtime API it takes its invocations from (served here on
 * 127.0.0.1, one server per process, since the API has no notion of more than one runtime).
 * One invocation at a time; a timeout kills the process, as Lambda ends the environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type BootstrapCommand, BootstrapRefusedError } from '#infra/lambda-bootstrap.ts';
import { listen, readBody, sendJson } from '#local/http/server.ts';
import { LambdaFunctionError } from './errors.ts';

/** Lambda's limit on a synchronous invocation's response. */
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/**
 * Lambda's limit on the init phase of an environment started for an invocation. Past it the
 * invocation does not fail: Lambda runs the init again as part of the invocation, under the
 * function's own timeout (a "suppressed init"). Here the init already under way goes on under that
 * deadline instead of being started over: the outcome is the same (the invocation succeeds if
 * init and handler fit the function's timeout), without paying for the init twice.
 */
export const INIT_LIMIT_MS = 10_000;

export interface SandboxSpec {
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  /** The init phase's limit (Lambda's 10 s; shorter only in tests). */
  readonly initLimitMs?: number;
  /** The bootstrap's command for this function (node or the exec wrapper). */
  readonly command: (runtimeApi: string) => BootstrapCommand;
  /** The process's whole environment, given the address of its Runtime API. */
  readonly environment: (runtimeApi: string) => NodeJS.ProcessEnv;
  /** Where the function's output goes (its CloudWatch log stream, locally). */
  readonly log: (chunk: Buffer) => void;
}

interface Pending {
  readonly id: string;
  readonly event: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: LambdaFunctionError) => void;
  /** The init limit until the runtime takes the event, then the function's timeout. */
  timer?: NodeJS.Timeout;
  /** Set when the init passed its limit: the invocation must end by then, init included. */
  deadline?: number;
}

export class Sandbox {
  readonly #spec: SandboxSpec;
  readonly #server: Server;
  #process: ChildProcess | undefined;
  /** The runtime's `GET …/invocation/next`, held until there is work. */
  #waiting: ServerResponse | undefined;
  #pending: Pending | undefined;
  #ended = false;
  #onEnd: Array<() => void> = [];

  private constructor(spec: SandboxSpec, server: Server) {
    this.#spec = spec;
    this.#server = server;
  }

  /** Starts the Runtime API and the process; the function's init runs until its first `next`. */
  static async start(spec: SandboxSpec): Promise<Sandbox> {
    const server = createServer();
    server.keepAliveTimeout = 0;
    const port = await listen(server, 0, '127.0.0.1');
    const sandbox = new Sandbox(spec, server);
    server.on('request', (request, response) => sandbox.#route(request, response));
    const runtimeApi = `127.0.0.1:${port}`;
    try {
      const { file, args } = spec.command(runtimeApi);
      const env = spec.environment(runtimeApi);
      const child = spawn(file, args, {
        env,
        cwd: env.LAMBDA_TASK_ROOT,
        // stdin stays open and unwritten: the runtime ends its process when it closes.
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      sandbox.#process = child;
      child.stdout?.on('data', spec.log);
      child.stderr?.on('data', spec.log);
      child.once('error', () => sandbox.#exited('spawn failed'));
      child.once('exit', (code, signal) =>
        sandbox.#exited(signal ? `signal: ${signal}` : `exit status ${code}`),
      );
    } catch (error) {
      server.close();
      if (error instanceof BootstrapRefusedError) {
        throw new LambdaFunctionError(
          'Runtime.ExitError',
          `${error.message} (exit ${error.exitCode})`,
        );
      }
      throw error;
    }
    return sandbox;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Called once when the environment is gone (crash, timeout, or stop). */
  onEnd(listener: () => void): void {
    if (this.#ended) listener();
    else this.#onEnd.push(listener);
  }

  /**
   * Hands one event (already JSON, as the Invoke request carried it) to the runtime. A new
   * environment's init has Lambda's init limit; the function's timeout runs from when the runtime
   * takes the event.
   */
  invoke(payload: string): Promise<unknown> {
    if (this.#pending !== undefined) throw new Error('A sandbox takes one invocation at a time');
    if (this.#ended) {
      return Promise.reject(
        new LambdaFunctionError('Runtime.ExitError', 'The runtime exited before it started'),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: randomUUID(),
        event: payload,
        resolve,
        reject,
      };
      // Until the runtime takes the event: the init phase of a new environment, if any. Past
      // its limit the init goes on within the function's timeout, as a suppressed init does.
      const timeoutMs = this.#spec.timeoutSeconds * 1000;
      pending.timer = setTimeout(() => {
        pending.deadline = Date.now() + timeoutMs;
        pending.timer = this.#timeout(pending, timeoutMs);
      }, this.#spec.initLimitMs ?? INIT_LIMIT_MS);
      this.#pending = pending;
      this.#deliver();
    });
  }

  /**
   * Ends the invocation and the environment after `ms`, as Lambda's timeout does; the message
   * names the whole timeout (`limitMs`), as Lambda's does.
   */
  #timeout(pending: Pending, ms: number, limitMs = ms): NodeJS.Timeout {
    return setTimeout(() => {
      const seconds = (limitMs / 1000).toFixed(2);
      this.#fail(
        pending,
        new LambdaFunctionError(
          'Sandbox.Timedout',
          `RequestId: ${pending.id} Error: Task timed out after ${seconds} seconds`,
        ),
      );
      this.stop();
    }, ms);
  }

  /** Ends the environment: the process is killed, nothing more is taken. */
  stop(): void {
    this.#process?.kill('SIGKILL');
    this.#exited('stopped');
  }

  #deliver(): void {
    const pending = this.#pending;
    const waiting = this.#waiting;
    if (pending === undefined || waiting === undefined) return;
    this.#waiting = undefined;
    // The function's timeout runs from here, its init (if any) done, as Lambda's deadline does;
    // after a suppressed init, from when the init passed its limit.
    const timeoutMs = this.#spec.timeoutSeconds * 1000;
    clearTimeout(pending.timer);
    const deadline = pending.deadline ?? Date.now() + timeoutMs;
    pending.timer = this.#timeout(pending, Math.max(deadline - Date.now(), 0), timeoutMs);
    waiting.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': pending.id,
      'lambda-runtime-deadline-ms': String(deadline),
      'lambda-runtime-invoked-function-arn': this.#spec.functionArn,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)};Sampled=0`,
    });
    waiting.end(pending.event);
  }

  #route(request: IncomingMessage, response: ServerResponse): void {
    void readBody(request).then((read) => {
      // A runtime that went away mid-request is answered by nothing: its process's exit is.
      if (read.kind !== 'body') return;
      const body = read.body;
      const url = request.url ?? '';
      if (request.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        this.#waiting = response;
        this.#deliver();
        return;
      }
      const invocation = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (request.method === 'POST' && invocation) {
        const pending = this.#pending;
        if (pending === undefined || decodeURIComponent(invocation[1] ?? '') !== pending.id) {
          sendJson(response, 400, {
            errorType: 'InvalidRequestID',
            errorMessage: 'Unknown request',
          });
          return;
        }
        sendJson(response, 202, { status: 'OK' });
        if (invocation[2] === 'response') this.#succeed(pending, body);
        else this.#fail(pending, errorOf(body));
        return;
      }
      if (request.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        sendJson(response, 202, { status: 'OK' });
        const pending = this.#pending;
        if (pending !== undefined) this.#fail(pending, errorOf(body));
        this.stop();
        return;
      }
      sendJson(response, 404, { errorType: 'NotFound', errorMessage: url });
    });
  }

  #succeed(pending: Pending, body: Buffer): void {
    if (body.length > MAX_RESPONSE_BYTES) {
      this.#fail(
        pending,
        new LambdaFunctionError(
          'Function.ResponseSizeTooLarge',
          `Response payload size (${body.length} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
        ),
      );
      return;
    }
    this.#finish(pending);
    try {
      pending.resolve(JSON.parse(body.toString('utf8') || 'null'));
    } catch {
      pending.reject(
        new LambdaFunctionError('Runtime.InvalidResponse', 'The response is not JSON'),
      );
    }
  }

  #fail(pending: Pending, error: LambdaFunctionError): void {
    this.#finish(pending);
    pending.reject(error);
  }

  #finish(pending: Pending): void {
    if (this.#pending === pending) this.#pending = undefined;
    clearTimeout(pending.timer);
  }

  #exited(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const pending = this.#pending;
    if (pending !== undefined) {
      this.#fail(
        pending,
        new LambdaFunctionError(
          'Runtime.ExitError',
          `RequestId: ${pending.id} Error: Runtime exited with error: ${reason}`,
        ),
      );
    }
    this.#waiting?.destroy();
    this.#server.close();
    this.#server.closeAllConnections();
    for (const listener of this.#onEnd) listener();
    this.#onEnd = [];
  }
}

/** The runtime's error report, `{errorType, errorMessage, trace}`. */
function errorOf(body: Buffer): LambdaFunctionError {
  try {
    const report = JSON.parse(body.toString('utf8')) as {
      errorType?: unknown;
      errorMessage?: unknown;
      trace?: unknown;
    };
    return new LambdaFunctionError(
      typeof report.errorType === 'string' ? report.errorType : 'Error',
      typeof report.errorMessage === 'string' ? report.errorMessage : '',
      Array.isArray(report.trace) ? report.trace.map(String) : [],
    );
  } catch {
    return new LambdaFunctionError('Runtime.InvalidError', body.toString('utf8'));
  }
}
