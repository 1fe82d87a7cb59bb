/**
 * Counts the requests the local servers of this process receive (the local DynamoDB and S3, the
 * simulator), by operation and answer status, through Node's http diagnostics channels — the
 * servers themselves are not touched.
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

type Classifier = (request: IncomingMessage) => string;

interface Watched {
  readonly label: string;
  readonly classify: Classifier;
}

export class ServerRequestCounter {
  readonly #byPort = new Map<number, Watched>();
  #counts: RequestCounts = { requests: {}, statuses: {} };
  readonly #onStart = (message: unknown) => {
    const { request, server } = message as { request: IncomingMessage; server: Server };
    const watched = this.#watched(server);
    if (!watched) return;
    bump(this.#counts.requests, watched.label, watched.classify(request));
  };
  readonly #onFinish = (message: unknown) => {
    const { response, server } = message as { response: ServerResponse; server: Server };
    const watched = this.#watched(server);
    if (!watched) return;
    bump(this.#counts.statuses, watched.label, String(response.statusCode));
  };

  constructor() {
    diagnostics.subscribe('http.server.request.start', this.#onStart);
    diagnostics.subscribe('http.server.response.finish', this.#onFinish);
  }

  /** Counts requests to the server listening on `url`'s port. */
  watch(label: string, url: string, classify: Classifier): void {
    this.#byPort.set(Number(new URL(url).port), { label, classify });
  }

  /** Starts counting from zero. */
  reset(): void {
    this.#counts = { requests: {}, statuses: {} };
  }

  snapshot(): RequestCounts {
    return structuredClone(this.#counts);
  }

  close(): void {
    diagnostics.unsubscribe('http.server.request.start', this.#onStart);
    diagnostics.unsubscribe('http.server.response.finish', this.#onFinish);
  }

  #watched(server: Server): Watched | undefined {
    const address = server.address() as AddressInfo | null;
    return address ? this.#byPort.get(address.port) : undefined;
  }
}

function bump(target: Record<string, Record<string, number>>, label: string, key: string) {
  const counts = target[label] ?? {};
  counts[key] = (counts[key] ?? 0) + 1;
  target[label] = counts;
}

/** `DynamoDB_20120810.UpdateItem` → `UpdateItem`. */
export const dynamodbOperation: Classifier = (request) =>
  String(request.headers['x-amz-target'] ?? 'unknown')
    .split('.')
    .pop() ?? 'unknown';

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
