/**
 * Client of the Spark Text to Image 3.0 provider: create a task, poll it.
 *
 * One request per call, bounded by a timeout, answers parsed with zod, provider codes normalised
 * to 9-digit strings, failures raised as typed errors that say whether they are retryable.
 * It never retries by itself: retry policy belongs to the workflow.
 */
import { ErrorCodes, normaliseErrorCode } from '#shared/errors/codes.ts';
import type { GenerationRequest } from '#shared/request/schema.ts';
import {
  SparkAuthError,
  SparkHttpError,
  SparkNetworkError,
  type SparkOperation,
  SparkRejectedError,
  SparkResponseParseError,
  SparkServerError,
  SparkThrottledError,
  SparkTimeoutError,
} from './errors.ts';
import {
  createTaskResponseSchema,
  errorResponseSchema,
  SPARK_MODEL,
  type TaskResponse,
  taskResponseSchema,
  type Usage,
} from './wire.ts';

export const DEFAULT_CREATE_PATH = '/v1/images/generations';
export const DEFAULT_TASK_PATH = '/v1/tasks/{id}';
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface SparkClientOptions {
  /** Provider base URL, e.g. `https://api.example.com`. */
  readonly baseUrl: string;
  /** The API key, or a function that fetches it (e.g. from Secrets Manager, cached). */
  readonly apiKey: string | (() => Promise<string>);
  /** @default '/v1/images/generations' */
  readonly createPath?: string;
  /** Must contain `{id}`. @default '/v1/tasks/{id}' */
  readonly taskPath?: string;
  /** Per request, headers and body together. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

export interface CallOptions {
  /** Aborts the request early (e.g. the Lambda is about to time out). */
  readonly signal?: AbortSignal;
}

export interface CreatedTask {
  readonly taskId: string;
  readonly status: string;
}

export interface TaskImage {
  readonly url: string;
  readonly size?: number;
  readonly jobId?: string;
}

export interface TaskFailure {
  /** 9-digit provider code; 003001095 when the provider gave none. */
  readonly code: string;
  readonly message: string;
}

/** A poll answer, normalised. `status` is the provider's; `state` is what we act on. */
export type TaskSnapshot =
  | { readonly taskId: string; readonly status: string; readonly state: 'pending' }
  | {
      readonly taskId: string;
      readonly status: 'completed';
      readonly state: 'completed';
      readonly images: readonly TaskImage[];
      readonly usage?: Usage;
      /** `usage.cost` as a number of USD, when the provider gave one that parses. */
      readonly costUsd?: number;
    }
  | {
      readonly taskId: string;
      readonly status: 'failed';
      readonly state: 'failed';
      readonly error: TaskFailure;
    };

export class SparkClient {
  readonly #options: Required<Omit<SparkClientOptions, 'apiKey'>>;
  readonly #apiKey: SparkClientOptions['apiKey'];

  constructor(options: SparkClientOptions) {
    const taskPath = options.taskPath ?? DEFAULT_TASK_PATH;
    if (!taskPath.includes('{id}')) {
      throw new TypeError(`Spark task path "${taskPath}" must contain {id}`);
    }
    this.#apiKey = options.apiKey;
    this.#options = {
      baseUrl: new URL(options.baseUrl).href.replace(/\/+$/, ''),
      createPath: options.createPath ?? DEFAULT_CREATE_PATH,
      taskPath,
      timeoutMs: options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  /** Creates a paid generation task. The caller must record the task id before anything else. */
  async createTask(request: GenerationRequest, options: CallOptions = {}): Promise<CreatedTask> {
    const body = JSON.stringify({ model: SPARK_MODEL, ...request });
    const answer = await this.#call('create', 'POST', this.#options.createPath, body, options);
    const parsed = createTaskResponseSchema.safeParse(answer);
    if (!parsed.success) {
      throw new SparkResponseParseError(
        `Spark create answer did not parse: ${parsed.error.issues[0]?.message}`,
        { operation: 'create', cause: parsed.error },
      );
    }
    const taskId = (parsed.data.id ?? parsed.data.task_id) as string;
    return { taskId, status: parsed.data.status ?? 'queued' };
  }

  /** Reads the task's current state once. */
  async getTask(taskId: string, options: CallOptions = {}): Promise<TaskSnapshot> {
    const path = this.#options.taskPath.replace('{id}', encodeURIComponent(taskId));
    const answer = await this.#call('poll', 'GET', path, undefined, options);
    const parsed = taskResponseSchema.safeParse(answer);
    if (!parsed.success) {
      throw new SparkResponseParseError(
        `Spark task answer did not parse: ${parsed.error.issues[0]?.message}`,
        { operation: 'poll', cause: parsed.error },
      );
    }
    return toSnapshot(taskId, parsed.data);
  }

  async #call(
    operation: SparkOperation,
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    options: CallOptions,
  ): Promise<unknown> {
    const apiKey = typeof this.#apiKey === 'string' ? this.#apiKey : await this.#apiKey();
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const url = `${this.#options.baseUrl}${path}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${apiKey}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.#options.fetch(url, { method, headers, body, signal });
      // The timeout covers the body too: a provider that stalls mid-body is a timeout.
      text = await response.text();
    } catch (error) {
      throw transportError(operation, method, path, error, timeout);
    }
    if (response.ok) return parseJson(operation, text);
    throw httpError(operation, response, text);
  }
}

function parseJson(operation: SparkOperation, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SparkResponseParseError(`Spark ${operation} answer is not JSON`, {
      operation,
      cause: error,
    });
  }
}

function transportError(
  operation: SparkOperation,
  method: string,
  path: string,
  error: unknown,
  timeout: AbortSignal,
): Error {
  if (timeout.aborted) {
    return new SparkTimeoutError(`Spark ${method} ${path} timed out`, { operation, cause: error });
  }
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new SparkNetworkError(`Spark ${method} ${path} failed: ${describe(error)}`, {
    operation,
    cause: error,
  });
}

function httpError(operation: SparkOperation, response: Response, text: string): Error {
  const httpStatus = response.status;
  const provider = providerError(text);
  const detail = provider ? ` (${provider.code}: ${provider.message})` : '';
  const message = `Spark ${operation} answered HTTP ${httpStatus}${detail}`;
  if (httpStatus === 429) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
    return new SparkThrottledError(message, { operation, httpStatus, retryAfterSeconds });
  }
  if (httpStatus >= 500) return new SparkServerError(message, { operation, httpStatus });
  if (httpStatus === 401 || httpStatus === 403) {
    return new SparkAuthError(message, { operation, httpStatus });
  }
  // The provider refuses a request with 400 and one of its codes; any other 4xx (a 404 for a
  // task it does not know, say) is not a verdict on the request.
  if ((httpStatus === 400 || httpStatus === 422) && provider?.code) {
    return new SparkRejectedError(message, { operation, httpStatus, code: provider.code });
  }
  return new SparkHttpError(message, { operation, httpStatus });
}

function providerError(text: string): { code?: string; message: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = errorResponseSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const error = 'error' in parsed.data ? parsed.data.error : parsed.data;
  if (error === undefined || error === null || typeof error !== 'object') return undefined;
  const fields = error as { code?: unknown; error_message?: string; message?: string };
  const code = normaliseErrorCode(fields.code);
  return { code, message: fields.error_message ?? fields.message ?? 'no message' };
}

/** `Retry-After` is whole seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function toSnapshot(requestedId: string, task: TaskResponse): TaskSnapshot {
  const taskId = task.id ?? task.task_id ?? requestedId;
  if (task.status === 'failed') {
    const code = normaliseErrorCode(task.error?.code) ?? ErrorCodes.INTERNAL_GENERATION_ERROR;
    const message =
      task.error?.error_message ?? task.error?.message ?? 'The provider reported the task failed';
    return { taskId, status: 'failed', state: 'failed', error: { code, message } };
  }
  if (task.status !== 'completed') return { taskId, status: task.status, state: 'pending' };
  const images = (task.output ?? []).flatMap((item) =>
    item.content
      .filter((content) => content.type === 'image')
      .map((content) => ({
        url: content.url,
        size: content.size,
        jobId: content.jobId ?? item.jobId,
      })),
  );
  if (images.length === 0) {
    throw new SparkResponseParseError('Spark task is completed but carries no image', {
      operation: 'poll',
    });
  }
  const usage = task.usage ?? undefined;
  const costUsd = usage === undefined ? undefined : Number(usage.cost);
  return {
    taskId,
    status: 'completed',
    state: 'completed',
    images,
    ...(usage && { usage }),
    ...(costUsd !== undefined && Number.isFinite(costUsd) && { costUsd }),
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
