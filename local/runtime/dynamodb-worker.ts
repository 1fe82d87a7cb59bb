/**
 * The local DynamoDB-compatible server (dynalite, LevelDB on disk) in a worker thread of its
 * own. Every function of the local runtime shares the main thread, and serving their DynamoDB
 * calls is a good part of the work; on a thread of its own it runs on another core.
 *
 * Started by `storage.ts`: posts `{ port }` once listening, and closes on the message `close`.
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
server.listen(0, host);
await once(server, 'listening');
parentPort?.postMessage({ port: (server.address() as AddressInfo).port });
parentPort?.on('message', (message) => {
  if (message !== 'close') return;
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
});
