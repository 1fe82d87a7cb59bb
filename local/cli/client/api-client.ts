/**
 * A small client of the pipeline's HTTP API (local or deployed; docs/openapi.json). Every answer
 * outside 2xx becomes an {@link ApiError} carrying the API's documented `{"error":{"code",
 * "message"}}`, so a command can print one clear line; a server that cannot be reached becomes an
 * {@link ApiUnreachableError}.
 */
import type { BatchView } from '#shared/api/batch-schemas.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import type { PromptFileReport } from '#shared/prompt-files/report.ts';
import type { RequestWarning } from '#shared/request/schema.ts';

/** An answer of the API outside 2xx, with its documented code. */
export class ApiError extends Error {
  readonly status: number;
  /** The 9-digit code of the error-code table, or `HTTP` when the body carried none. */
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string | undefined, detail: string) {
    const hint =
      status === 401 || status === 403
        ? ': the API refused the key (check --key or SPARK_T2I_API_KEY)'
        : '';
    super(
      code === undefined
        ? `HTTP ${status} ${detail}${hint}`
        : `${code} ${detail} (HTTP ${status})${hint}`,
    );
    this.name = 'ApiError';
    this.status = status;
    this.code = code ?? 'HTTP';
    this.detail = detail;
  }
}

/** The API could not be reached at all (refused, DNS, TLS…), or answered something unreadable. */
export class ApiUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

/** A generation as the API shows it (`GET /generations/{id}`). */
export type Generation = GenerationView;
export type GenerationStatus = Generation['status'];

export interface GenerationAccepted {
  readonly id: string;
  readonly status: 'queued';
  readonly warnings?: readonly RequestWarning[];
  readonly links?: { readonly self: string };
}

export interface GenerationPage {
  readonly items: Generation[];
  readonly nextCursor?: string;
}

/** A batch as the API shows it (`GET /batches/{id}`). */
export type Batch = BatchView;

export interface ListQuery {
  readonly status?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** Worth another try: the API could not be reached, throttled, or failed on its side. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiUnreachableError) return true;
  return error instanceof ApiError && (error.status === 429 || error.status >= 500);
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export function isTerminalStatus(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

export interface ApiClientOptions {
  /** Per-request time limit. @default 30000 */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(baseUrl: string, key: string, options: ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#key = key;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? fetch;
  }

  submit(
    request: Record<string, unknown>,
    options: { signal?: AbortSignal; idempotencyKey?: string } = {},
  ): Promise<GenerationAccepted> {
    return this.#call('POST', '/generations', {
      body: request,
      signal: options.signal,
      ...(options.idempotencyKey !== undefined && {
        headers: { 'idempotency-key': options.idempotencyKey },
      }),
    });
  }

  get(id: string, signal?: AbortSignal): Promise<Generation> {
    return this.#call('GET', `/generations/${encodeURIComponent(id)}`, { signal });
  }

  list(query: ListQuery = {}, signal?: AbortSignal): Promise<GenerationPage> {
    return this.#call('GET', `/generations${searchOf(query)}`, { signal });
  }

  cancel(id: string, signal?: AbortSignal): Promise<Generation> {
    return this.#call('DELETE', `/generations/${encodeURIComponent(id)}`, { signal });
  }

  /** POST /batches with the file as the body (compressed with `contentEncoding`, if given). */
  submitBatchFile(
    body: Uint8Array,
    contentType: string,
    signal?: AbortSignal,
    contentEncoding?: 'gzip',
  ): Promise<Batch> {
    return this.#call('POST', '/batches', {
      raw: { body, contentType },
      signal,
      ...(contentEncoding !== undefined && { headers: { 'content-encoding': contentEncoding } }),
    });
  }

  /** POST /batches with an upload request: the answer carries the pre-signed PUT. */
  requestBatchUpload(
    upload: { readonly format: string; readonly bytes: number },
    signal?: AbortSignal,
  ): Promise<Batch> {
    return this.#call('POST', '/batches', { body: { upload }, signal });
  }

  getBatch(id: string, signal?: AbortSignal): Promise<Batch> {
    return this.#call('GET', `/batches/${encodeURIComponent(id)}`, { signal });
  }

  batchReport(id: string, signal?: AbortSignal): Promise<PromptFileReport> {
    return this.#call('GET', `/batches/${encodeURIComponent(id)}/report`, { signal });
  }

  batchGenerations(
    id: string,
    query: ListQuery = {},
    signal?: AbortSignal,
  ): Promise<GenerationPage> {
    return this.#call('GET', `/batches/${encodeURIComponent(id)}/generations${searchOf(query)}`, {
      signal,
    });
  }

  async #call<T>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      raw?: { body: Uint8Array; contentType: string };
      signal?: AbortSignal | undefined;
      headers?: Record<string, string>;
    },
  ): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const signals = [AbortSignal.timeout(this.#timeoutMs)];
    if (options.signal) signals.push(options.signal);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${this.#key}`,
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...(options.raw !== undefined && { 'content-type': options.raw.contentType }),
          ...options.headers,
        },
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        ...(options.raw !== undefined && { body: options.raw.body }),
        signal: AbortSignal.any(signals),
      });
      text = await response.text();
    } catch (error) {
      // An abort by the caller (Ctrl-C) goes on as it is; anything else is "cannot reach".
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw new ApiUnreachableError(`cannot reach ${this.baseUrl}: ${reasonOf(error)}`, {
        cause: error,
      });
    }
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const { code, message } = errorOf(parsed);
      throw new ApiError(
        response.status,
        code,
        message ?? (response.statusText || 'error without a body'),
      );
    }
    if (parsed === undefined || parsed === null || typeof parsed !== 'object') {
      throw new ApiUnreachableError(
        `${method} ${url} answered HTTP ${response.status} with a body that is not a JSON object`,
      );
    }
    return parsed as T;
  }
}

/** The list query as a query string (empty without one). */
function searchOf(query: ListQuery): string {
  const search = new URLSearchParams();
  if (query.status !== undefined) search.set('status', query.status);
  if (query.limit !== undefined) search.set('limit', String(query.limit));
  if (query.cursor !== undefined) search.set('cursor', query.cursor);
  return search.size > 0 ? `?${search}` : '';
}

/** `{"error":{"code","message"}}` (ours), or `{"message"}` (a bare API Gateway answer). */
function errorOf(body: unknown): { code?: string; message?: string } {
  if (body === null || typeof body !== 'object') return {};
  const error = (body as { error?: unknown }).error;
  if (error !== null && typeof error === 'object') {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return {
      ...(typeof code === 'string' && code.length > 0 && { code }),
      ...(typeof message === 'string' && { message }),
    };
  }
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' ? { message } : {};
}

/** The most telling words of a failed fetch: undici hides the system error in `cause`. */
export function reasonOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (cause instanceof Error) return cause.message;
  if ((error as Error | null)?.name === 'TimeoutError') return 'timed out';
  return error instanceof Error ? error.message : String(error);
}
