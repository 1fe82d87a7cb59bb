/**
 * dynalite's server with the operations it lacks that the stack uses: TransactWriteItems
 * (`dynamodb-transactions.ts`). Every other request goes to dynalite as it came. The local
 * runtime's DynamoDB worker and the tests' local DynamoDB both start it, so code tested against
 * one behaves the same against the other.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { crc32 } from 'node:zlib';
import dynalite from 'dynalite';
import db, { type Store } from 'dynalite/db/index.js';
import { readBody } from '#local/http/server.ts';
import {
  type TransactionAnswer,
  transactWriteItems,
} from '#local/runtime/dynamodb-transactions.ts';

type DynaliteOptions = Parameters<typeof dynalite>[0];

/** DynamoDB's own limit on a request body. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export function dynaliteWithTransactions(options: DynaliteOptions): Server {
  const { server, store } = dynaliteStore(options);
  const serve = server.listeners('request')[0] as (
    request: IncomingMessage,
    response: ServerResponse,
  ) => void;
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST' || request.headers['x-amz-target'] !== TRANSACT_WRITE_ITEMS) {
      serve(request, response);
      return;
    }
    answerTransaction(store, request).then(
      (answer) => send(response, answer),
      (error: unknown) => {
        // A failure of the store itself: nothing was written (see writeAll), the caller retries.
        console.error('TransactWriteItems failed', error);
        send(response, {
          status: 500,
          body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError' },
        });
      },
    );
  });
  return server;
}

const TRANSACT_WRITE_ITEMS = 'DynamoDB_20120810.TransactWriteItems';

/**
 * dynalite and the store it made. dynalite keeps its store to itself; it makes it with its
 * `db.create`, called once by `dynalite()`, which is wrapped for that call to catch it.
 */
function dynaliteStore(options: DynaliteOptions): { server: Server; store: Store } {
  const create = db.create;
  let store: Store | undefined;
  db.create = (createOptions) => {
    store = create(createOptions);
    return store;
  };
  try {
    const server = dynalite(options);
    if (store === undefined) throw new Error('dynalite made no store with db.create');
    return { server, store };
  } finally {
    db.create = create;
  }
}

async function answerTransaction(
  store: Store,
  request: IncomingMessage,
): Promise<TransactionAnswer> {
  const read = await readBody(request, { maxBytes: MAX_REQUEST_BYTES });
  if (read.kind !== 'body') return { status: 413, body: {} };
  let input: unknown;
  try {
    input = JSON.parse(read.body.toString('utf8'));
  } catch {
    return { status: 400, body: { __type: 'com.amazon.coral.service#SerializationException' } };
  }
  return transactWriteItems(store, input);
}

/** As dynalite answers: a request id, and the CRC32 of the body the SDK checks. */
function send(response: ServerResponse, answer: TransactionAnswer): void {
  const body = Buffer.from(JSON.stringify(answer.body));
  response.writeHead(answer.status, {
    'x-amzn-RequestId': randomBytes(39).toString('base64url').toUpperCase(),
    'x-amz-crc32': String(crc32(body)),
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': body.length,
  });
  response.end(body);
}
