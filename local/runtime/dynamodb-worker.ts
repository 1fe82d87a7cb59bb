/**
 * The local DynamoDB-compatible server (dynalite, LevelDB on disk, with the transactions of
 * `dynalite-server.ts`) in a worker thread of its own, so serving the functions' DynamoDB calls does not wait on the runtime's main thread (the
 * state machine, the API, the S3 server). Every request is SigV4-verified and, when IAM is
 * enforced, authorised here before dynalite reads it (`local/aws/access.ts`), so the door costs
 * the main thread nothing either.
 *
 * Started by `storage.ts`: posts `{ port }` once listening, `{ denied }` for each IAM refusal,
 * answers the message `requests` with `{ requests }` (every request served, by operation, as
 * CloudWatch would count them), and closes on the message `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { type AccessGate, checkAccess } from '#local/aws/access.ts';
import { dynamodbAccesses, partitionKeysOf } from '#local/aws/dynamodb-requests.ts';
import { sendRefusal } from '#local/aws/errors.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { closeServer, listen, readBody } from '#local/http/server.ts';
import { iamGate } from '#local/iam/gate.ts';
import { dynaliteWithTransactions } from '#local/runtime/dynalite-server.ts';
import type { DynamoDbWorkerData } from '#local/runtime/storage.ts';

/** DynamoDB's own limit on a request body. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

const data = workerData as DynamoDbWorkerData;
const identities = LocalIdentities.fromTable(data.identities);
const gate: AccessGate | undefined = data.iam ? iamGate(data.iam.template) : undefined;
const partitionKeys = data.iam ? partitionKeysOf(data.iam.template) : new Map<string, string>();
const server = dynaliteWithTransactions({
  path: data.path,
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});
const serve = server.listeners('request')[0] as (
  request: IncomingMessage,
  response: ServerResponse,
) => void;
server.removeAllListeners('request');

const requests: Record<string, number> = {};
server.on('request', async (request: IncomingMessage, response: ServerResponse) => {
  const target = request.headers['x-amz-target'];
  const operation = (typeof target === 'string' && target.split('.').pop()) || 'unknown';
  requests[operation] = (requests[operation] ?? 0) + 1;
  // The whole body: the signature covers its hash.
  const read = await readBody(request, { maxBytes: MAX_REQUEST_BYTES });
  if (read.kind !== 'body') {
    // Past DynamoDB's limit, or the client gone: the connection is dropped, the rest unread.
    request.destroy();
    return;
  }
  const body = read.body;
  const result = await checkAccess(
    {
      identities,
      gate,
      onDenied: (denied) => parentPort?.postMessage({ denied }),
      onDecision: data.audit ? (audited) => parentPort?.postMessage({ audited }) : undefined,
    },
    { method: request.method ?? 'POST', url: request.url ?? '/', headers: request.headers, body },
    'dynamodb',
    () => dynamodbAccesses(operation, body, partitionKeys),
  );
  if (!result.ok) {
    sendRefusal(response, 'json', result.refusal);
    return;
  }
  serve(replay(request, body), response);
});
parentPort?.postMessage({ port: await listen(server, 0, data.host) });
parentPort?.on('message', (message) => {
  if (message === 'requests') parentPort?.postMessage({ requests: { ...requests } });
  if (message !== 'close') return;
  void closeServer(server).then(() => process.exit(0));
});

/** The request again, its body already read, for dynalite (which reads `data`/`end` events). */
function replay(request: IncomingMessage, body: Buffer): IncomingMessage {
  const again = Readable.from(body.length > 0 ? [body] : []) as unknown as IncomingMessage;
  again.headers = request.headers;
  again.method = request.method as string;
  again.url = request.url as string;
  return again;
}
