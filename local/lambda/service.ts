/**
 * The local Lambda service: each function of the synthesized stack runs from its code (the asset
 * `cdk synth` built, or its source with `--from-source`) in processes of its own, started as the
 * managed Node runtime starts them (`infra/lambda-bootstrap.ts`), with exactly the environment of
 * `environment.ts`. An environment is reused while warm and takes one invocation at a time; more
 * start as invocations overlap, up to the function's reserved concurrency (or the local limit).
 * A caller sees what Lambda's callers see: the result, or a `LambdaFunctionError` whose type is
 * the thrown error's name or one of Lambda's own. An event over Lambda's synchronous request
 * limit is refused before any environment sees it (`LambdaRequestTooLargeError`), whoever the
 * caller: API Gateway, a Step Functions task, the scheduler, an asynchronous delivery.
 */
import { bootstrapCommand } from '#infra/lambda-bootstrap.ts';
import { functionEnvironment, type LambdaSetVariables } from './environment.ts';
import {
  LambdaFunctionError,
  LambdaRequestTooLargeError,
  MAX_SYNC_REQUEST_BYTES,
} from './errors.ts';
import { Sandbox } from './sandbox.ts';

/** A function of the synthesized stack, as the local Lambda runs it. */
export interface LocalFunction {
  readonly logicalId: string;
  /** Folder under `functions/` holding `handler.ts`. */
  readonly entryPoint: string;
  /** The environment the stack gives it, with resource references resolved to local names. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** The template's `Runtime`, e.g. `nodejs24.x`. */
  readonly runtime: string;
  /** The template's `Handler`, e.g. `index.handler`. */
  readonly handler: string;
  /** `JSON` when its logs are JSON (the template's `LoggingConfig.LogFormat`). */
  readonly logFormat?: string;
  readonly reservedConcurrency?: number;
  /** The logical id of its execution role in the template. */
  readonly roleLogicalId?: string;
  /** Its asset's folder, relative to the synthesis (absent when run from source). */
  readonly asset?: string;
}

/** Where a function's code is, and how its handler is named there. */
export interface FunctionCode {
  /** `LAMBDA_TASK_ROOT`: the asset's folder, or the function's source folder. */
  readonly taskRoot: string;
  readonly handler: string;
  /** Whether `/var/task/…` paths (the exec wrapper) are the task root's. */
  readonly faithful: boolean;
}

export interface LocalLambdaOptions {
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** Where each function's code is. */
  readonly code: (fn: LocalFunction) => FunctionCode;
  /** The Node binary of the functions' runtime (same major as the template's `Runtime`). */
  readonly node: string;
  /** The runtime inside each process (`runtime-interface.ts`), and its folder. */
  readonly runtimeScript: string;
  readonly runtimeDir: string;
  /** The runtime's modules (the managed runtime's SDK). */
  readonly runtimeModules: string;
  readonly region: string;
  /** The credentials a function's processes get: its role's. */
  readonly credentials: (fn: LocalFunction) => LambdaSetVariables['credentials'];
  /** The twin's own variables (endpoints, local settings), over the template's. */
  readonly localEnvironment: (fn: LocalFunction) => Readonly<Record<string, string>>;
  /** Environments of one function at most, unless its reserved concurrency says fewer. */
  readonly maxEnvironments: number;
  /** A function process's output (its log stream). */
  readonly log?: (functionLogicalId: string, chunk: Buffer) => void;
  /** The init phase's limit (Lambda's 10 s; shorter only in tests). */
  readonly initLimitMs?: number;
}

export interface InvocationRecord {
  readonly functionLogicalId: string;
  readonly durationMs: number;
  readonly ok: boolean;
}

/** A warm environment is kept this long after its last invocation. */
const IDLE_MS = 5 * 60_000;
/** Lambda's `/var/task`: paths under it in a function's environment are its task root's. */
const LAMBDA_TASK_DIR = '/var/task/';

export class LocalLambda {
  readonly #options: LocalLambdaOptions;
  readonly #pools = new Map<string, EnvironmentPool>();
  readonly #listeners: Array<(record: InvocationRecord) => void> = [];
  #closed = false;

  constructor(options: LocalLambdaOptions) {
    this.#options = options;
  }

  get functions(): Readonly<Record<string, LocalFunction>> {
    return this.#options.functions;
  }

  /** Called after every invocation (the benchmarks count them). */
  onInvocation(listener: (record: InvocationRecord) => void): void {
    this.#listeners.push(listener);
  }

  /** The function an ARN (or name) points at. */
  resolve(arnOrName: string): LocalFunction {
    const name = arnOrName.split(':function:').pop()?.split(':')[0] ?? arnOrName;
    const fn = this.#options.functions[name];
    if (fn === undefined) throw new Error(`No local function ${arnOrName}`);
    return fn;
  }

  /** Processes running now, by function (for tests and the benchmarks). */
  environments(): Record<string, number> {
    return Object.fromEntries([...this.#pools].map(([id, pool]) => [id, pool.size]));
  }

  async invoke(arnOrName: string, event: unknown): Promise<unknown> {
    const fn = this.resolve(arnOrName);
    const started = Date.now();
    let ok = false;
    try {
      if (this.#closed) throw new LambdaFunctionError('Lambda.ServiceException', 'Stopped');
      const payload = invocationPayload(event);
      const pool = this.#pool(fn);
      const sandbox = await pool.acquire();
      try {
        const result = await sandbox.invoke(payload);
        ok = true;
        return result;
      } finally {
        pool.release(sandbox);
      }
    } finally {
      const record = { functionLogicalId: fn.logicalId, durationMs: Date.now() - started, ok };
      for (const listener of this.#listeners) listener(record);
    }
  }

  /** Stops every environment. */
  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) pool.close();
  }

  #pool(fn: LocalFunction): EnvironmentPool {
    let pool = this.#pools.get(fn.logicalId);
    if (pool === undefined) {
      const limit = Math.min(
        fn.reservedConcurrency ?? Number.POSITIVE_INFINITY,
        this.#options.maxEnvironments,
      );
      pool = new EnvironmentPool(limit, () => this.#start(fn));
      this.#pools.set(fn.logicalId, pool);
    }
    return pool;
  }

  #start(fn: LocalFunction): Promise<Sandbox> {
    const options = this.#options;
    const code = options.code(fn);
    const wrapperPath = fn.environment.AWS_LAMBDA_EXEC_WRAPPER;
    // From source there is no asset, so no wrapper: its flags do not apply (not deploy-faithful).
    const wrapper =
      wrapperPath === undefined || !code.faithful
        ? undefined
        : wrapperPath.startsWith(LAMBDA_TASK_DIR)
          ? `${code.taskRoot}/${wrapperPath.slice(LAMBDA_TASK_DIR.length)}`
          : wrapperPath;
    const functionArn = `arn:aws:lambda:${options.region}:000000000000:function:${fn.logicalId}`;
    return Sandbox.start({
      functionName: fn.logicalId,
      functionArn,
      timeoutSeconds: fn.timeoutSeconds,
      ...(options.initLimitMs !== undefined && { initLimitMs: options.initLimitMs }),
      command: () =>
        bootstrapCommand({
          node: options.node,
          memorySizeMb: fn.memorySize,
          runtimeScript: options.runtimeScript,
          wrapper,
        }),
      environment: (runtimeApi) =>
        functionEnvironment(
          fn.environment,
          {
            functionName: fn.logicalId,
            memorySizeMb: fn.memorySize,
            handler: code.handler,
            taskRoot: code.taskRoot,
            runtimeDir: options.runtimeDir,
            runtimeModules: options.runtimeModules,
            region: options.region,
            credentials: options.credentials(fn),
            runtime: fn.runtime,
            logFormat: fn.logFormat,
            runtimeApi,
          },
          options.localEnvironment(fn),
        ),
      log: (chunk) => options.log?.(fn.logicalId, chunk),
    });
  }
}

/**
 * The event as the Invoke request carries it (JSON), refused as Lambda refuses it when over the
 * synchronous request limit: Lambda measures the request's body, the serialised event.
 */
export function invocationPayload(event: unknown): string {
  const payload = JSON.stringify(event ?? null);
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > MAX_SYNC_REQUEST_BYTES) throw new LambdaRequestTooLargeError(bytes);
  return payload;
}

/**
 * The environments of one function: warm ones are reused (the most recent first, as Lambda
 * does), a new one starts while fewer than `limit` run, and beyond that an invocation waits for
 * one to be free.
 */
class EnvironmentPool {
  readonly #limit: number;
  readonly #start: () => Promise<Sandbox>;
  readonly #idle: Sandbox[] = [];
  readonly #idleTimers = new Map<Sandbox, NodeJS.Timeout>();
  readonly #all = new Set<Sandbox>();
  readonly #waiting: Array<(sandbox: Sandbox | undefined) => void> = [];
  #starting = 0;

  constructor(limit: number, start: () => Promise<Sandbox>) {
    this.#limit = limit;
    this.#start = start;
  }

  get size(): number {
    return this.#all.size + this.#starting;
  }

  async acquire(): Promise<Sandbox> {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        clearTimeout(this.#idleTimers.get(idle));
        this.#idleTimers.delete(idle);
        return idle;
      }
      if (this.size < this.#limit) return this.#startOne();
      const handed = await new Promise<Sandbox | undefined>((resolve) =>
        this.#waiting.push(resolve),
      );
      if (handed !== undefined) return handed;
    }
  }

  release(sandbox: Sandbox): void {
    if (sandbox.ended) return;
    const next = this.#waiting.shift();
    if (next !== undefined) {
      next(sandbox);
      return;
    }
    this.#idle.push(sandbox);
    this.#idleTimers.set(sandbox, setTimeout(() => sandbox.stop(), IDLE_MS).unref());
  }

  close(): void {
    for (const sandbox of this.#all) sandbox.stop();
  }

  async #startOne(): Promise<Sandbox> {
    this.#starting++;
    let sandbox: Sandbox;
    try {
      sandbox = await this.#start();
    } catch (error) {
      this.#waiting.shift()?.(undefined);
      throw error;
    } finally {
      this.#starting--;
    }
    this.#all.add(sandbox);
    sandbox.onEnd(() => {
      this.#all.delete(sandbox);
      const index = this.#idle.indexOf(sandbox);
      if (index >= 0) this.#idle.splice(index, 1);
      clearTimeout(this.#idleTimers.get(sandbox));
      this.#idleTimers.delete(sandbox);
      // Room for a new environment: a waiting invocation may start one.
      this.#waiting.shift()?.(undefined);
    });
    return sandbox;
  }
}
