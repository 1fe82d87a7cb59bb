/**
 * Counts the requests the local servers that run in this process receive (the local S3, the
 * simulator), by operation and answer status, through Node's http diagnostics channels — the
 * servers themselves are not touched. The local DynamoDB runs on a thread of its own and counts
 * what it serves itself (`LocalRuntime.dynamodbRequests`).
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RequestCounts {
  /** By label then key (DynamoDB operation, S3 method, simulator route), request count. */
  readonly requests: Record<string, Record<string, number>>;
  /** By label then HTTP status of the answer. */
  readonly statuses: Record<string, Record<string, number>>;
}

/** What a classifier sees of a request, served or sent. */
export interface CountedRequest {
  readonly method?: string;
  readonly url?: string;
  header(name: string): string | undefined;
}

type Classifier = (request: CountedRequest) => string;

interface Watched {
  readonly label: string;
  readonly classify: Classifier;
}

export class ServerRequestCounter {
  readonly #served = new Map<number, Watched>();
  #counts: RequestCounts = { requests: {}, statuses: {} };
  readonly #onServed = (message: unknown) => {
    const { request, server } = message as { request: IncomingMessage; server: Server };
    const watched = this.#served.get(serverPort(server));
    if (!watched) return;
    bump(this.#counts.requests, watched.label, watched.classify(servedRequest(request)));
  };
  readonly #onAnswered = (message: unknown) => {
    const { response, server } = message as { response: ServerResponse; server: Server };
    const watched = this.#served.get(serverPort(server));
    if (!watched) return;
    bump(this.#counts.statuses, watched.label, String(response.statusCode));
  };
  constructor() {
    diagnostics.subscribe('http.server.request.start', this.#onServed);
    diagnostics.subscribe('http.server.response.finish', this.#onAnswered);
  }

  /** Counts requests to the server listening on `url`'s port. */
  watch(label: string, url: string, classify: Classifier): void {
    this.#served.set(Number(new URL(url).port), { label, classify });
  }

  /** Starts counting from zero. */
  reset(): void {
    this.#counts = { requests: {}, statuses: {} };
  }

  snapshot(): RequestCounts {
    return structuredClone(this.#counts);
  }

  close(): void {
    diagnostics.unsubscribe('http.server.request.start', this.#onServed);
    diagnostics.unsubscribe('http.server.response.finish', this.#onAnswered);
  }
}

function serverPort(server: Server): number {
  return (server.address() as AddressInfo | null)?.port ?? -1;
}

function servedRequest(request: IncomingMessage): CountedRequest {
  return {
    ...(request.method !== undefined && { method: request.method }),
    ...(request.url !== undefined && { url: request.url }),
    header: (name) => headerText(request.headers[name.toLowerCase()]),
  };
}

function headerText(value: string | number | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function bump(target: Record<string, Record<string, number>>, label: string, key: string) {
  const counts = target[label] ?? {};
  counts[key] = (counts[key] ?? 0) + 1;
  target[label] = counts;
}

export const httpMethod: Classifier = (request) => request.method ?? 'unknown';

export const DYNAMODB_WRITES = [
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
];
export const DYNAMODB_READS = ['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems'];

export function sum(counts: Record<string, number> | undefined, keys: readonly string[]): number {
  return keys.reduce((total, key) => total + (counts?.[key] ?? 0), 0);
}
