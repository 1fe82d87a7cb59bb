/**
 * The local DynamoDB-compatible server (dynalite, LevelDB on disk) in a worker thread of its
 * own, so serving the functions' DynamoDB calls does not wait on the runtime's main thread (the
 * state machine, the API, the S3 server).
 *
 * Started by `storage.ts`: posts `{ port }` once listening, answers the message `requests` with
 * `{ requests }` (every request served, by operation, as CloudWatch would count them), and
 * closes on the message `close`.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';

const { path, host } = workerData as { path: string; host: string };
const server = dynalite({
  path,
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
}) as Server;
const requests: Record<string, number> = {};
server.on('request', (request) => {
  const target = request.headers['x-amz-target'];
  const operation = (typeof target === 'string' && target.split('.').pop()) || 'unknown';
  requests[operation] = (requests[operation] ?? 0) + 1;
});
server.listen(0, host);
await once(server, 'listening');
parentPort?.postMessage({ port: (server.address() as AddressInfo).port });
parentPort?.on('message', (message) => {
  if (message === 'requests') parentPort?.postMessage({ requests: { ...requests } });
  if (message !== 'close') return;
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
});
