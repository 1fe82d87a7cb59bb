/**
 * The public HTTP API as the page calls it: same origin, the key in the Authorization header
 * (never in a URL), and every refusal turned into the API's error shape so the page shows the
 * same code and message a script would get.
 */
import type { GenerationView } from '#shared/api/schemas.ts';

export type Generation = GenerationView;

/**
 * A batch as GET /batches/{id} answers it (`batchViewSchema`), the fields the page reads. Written
 * here rather than imported: the batch modules reach Node's own (node:crypto), which the page's
 * type check, made without Node's types, must not see.
 */
export interface Batch {
  readonly id: string;
  readonly status: string;
  readonly source: { readonly bucket: string; readonly key: string };
  readonly counts: Readonly<
    Record<
      | 'lines'
      | 'accepted'
      | 'rejected'
      | 'queued'
      | 'running'
      | 'completed'
      | 'failed'
      | 'cancelled',
      number
    >
  >;
  readonly costUsd: number;
  readonly createdAt: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/** The per-line report of a batch (`PromptFileReport`), the fields the page reads. */
export interface BatchReport {
  readonly summary: { readonly accepted: number; readonly rejected: number };
  readonly lines: ReadonlyArray<
    | { readonly line: number; readonly id: string }
    | { readonly line: number; readonly error: { readonly code: string; readonly message: string } }
  >;
}

export interface GenerationPage {
  readonly items: Generation[];
  readonly nextCursor?: string;
}

export interface Accepted {
  readonly id: string;
  readonly status: 'queued';
  readonly warnings?: ReadonlyArray<{ code: string; message: string }>;
}

export interface SubmittedRequest {
  readonly prompt: unknown;
  readonly use_pre_llm?: unknown;
  readonly seed?: unknown;
  readonly width?: unknown;
  readonly height?: unknown;
}

/** An answer other than 2xx, with the API's error code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * The API's root: the folder above this script's (`<root>/console/app.js`), so the page works on
 * API Gateway's stage path (`/v1/`) as on the local runtime's root.
 */
export function apiBase(): string {
  return new URL('../', import.meta.url).pathname.replace(/\/$/, '');
}

export class Api {
  readonly #key: string;
  readonly #base: string;

  constructor(key: string, base: string = apiBase()) {
    this.#key = key;
    this.#base = base;
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.#base}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      // The key is never sent anywhere else, and answers are not kept.
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)
        ?.error;
      throw new ApiError(
        response.status,
        typeof error?.code === 'string' ? error.code : String(response.status),
        typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`,
      );
    }
    return parsed as T;
  }

  list(options: { status?: string; cursor?: string; limit?: number }): Promise<GenerationPage> {
    const query = new URLSearchParams();
    if (options.status) query.set('status', options.status);
    if (options.cursor) query.set('cursor', options.cursor);
    query.set('limit', String(options.limit ?? 24));
    return this.#call('GET', `/generations?${query}`);
  }

  get(id: string): Promise<Generation> {
    return this.#call('GET', `/generations/${encodeURIComponent(id)}`);
  }

  submit(request: SubmittedRequest): Promise<Accepted> {
    return this.#call('POST', '/generations', request);
  }

  cancel(id: string): Promise<Generation> {
    return this.#call('DELETE', `/generations/${encodeURIComponent(id)}`);
  }

  batches(): Promise<{ items: Batch[]; nextCursor?: string }> {
    return this.#call('GET', '/batches?limit=20');
  }

  batch(id: string): Promise<Batch> {
    return this.#call('GET', `/batches/${encodeURIComponent(id)}`);
  }

  report(id: string): Promise<BatchReport> {
    return this.#call('GET', `/batches/${encodeURIComponent(id)}/report`);
  }

  cancelBatch(id: string): Promise<Batch> {
    return this.#call('DELETE', `/batches/${encodeURIComponent(id)}`);
  }

  /**
   * Sends a prompt file as the body of POST /batches, telling how much is sent: fetch reports no
   * upload progress, so this one request goes through XMLHttpRequest.
   */
  uploadBatch(file: File, onProgress: (sent: number, total: number) => void): Promise<Batch> {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open('POST', `${this.#base}/batches`);
      request.setRequestHeader('authorization', `Bearer ${this.#key}`);
      request.setRequestHeader('content-type', batchMediaType(file.name));
      request.upload.onprogress = (event) => onProgress(event.loaded, event.total);
      request.onerror = () => reject(new ApiError(0, 'network', 'The API could not be reached'));
      request.onload = () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(request.responseText);
        } catch {
          parsed = undefined;
        }
        if (request.status >= 200 && request.status < 300) {
          resolve(parsed as Batch);
          return;
        }
        const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)
          ?.error;
        reject(
          new ApiError(
            request.status,
            typeof error?.code === 'string' ? error.code : String(request.status),
            typeof error?.message === 'string' ? error.message : `HTTP ${request.status}`,
          ),
        );
      };
      request.send(file);
    });
  }
}

/** The media type POST /batches reads a file as, from its extension (the formats of §6). */
export function batchMediaType(name: string): string {
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'application/jsonl';
  if (name.endsWith('.json')) return 'application/json';
  return 'text/plain';
}

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Reads a generation until it is terminal, telling each state seen; stops when told to. */
export async function follow(
  api: Api,
  id: string,
  onState: (generation: Generation) => void,
  signal: AbortSignal,
): Promise<void> {
  let delay = 500;
  while (!signal.aborted) {
    const generation = await api.get(id);
    if (signal.aborted) return;
    onState(generation);
    if (TERMINAL.has(generation.status)) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 3000);
  }
}
