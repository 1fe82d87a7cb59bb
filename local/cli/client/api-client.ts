/** A small client of the pipeline's HTTP API (local or deployed), surfacing its error shape. */

/** An answer of the API outside 2xx, with its documented code. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(`${code} ${message} (HTTP ${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface GenerationImage {
  readonly url: string;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
}

export interface Generation {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  readonly images: readonly GenerationImage[];
  readonly error?: { readonly code: string; readonly message: string };
  readonly costUsd?: number;
  readonly [field: string]: unknown;
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export class ApiClient {
  readonly #base: string;
  readonly #key: string;

  constructor(baseUrl: string, key: string) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#key = key;
  }

  submit(
    request: Record<string, unknown>,
  ): Promise<{ id: string; status: string; warnings?: Array<{ code: string; message: string }> }> {
    return this.#call('POST', '/generations', request);
  }

  get(id: string): Promise<Generation> {
    return this.#call('GET', `/generations/${encodeURIComponent(id)}`);
  }

  list(query: {
    status?: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: Generation[]; nextCursor?: string }> {
    const search = new URLSearchParams();
    if (query.status) search.set('status', query.status);
    if (query.limit) search.set('limit', String(query.limit));
    if (query.cursor) search.set('cursor', query.cursor);
    const suffix = search.size > 0 ? `?${search}` : '';
    return this.#call('GET', `/generations${suffix}`);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(
        `cannot reach ${this.#base}: ${(error as Error).cause ?? (error as Error).message}`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = {};
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new ApiError(
        response.status,
        error?.code ?? 'HTTP',
        error?.message ?? response.statusText,
      );
    }
    return parsed as T;
  }
}
