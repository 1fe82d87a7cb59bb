/**
 * One server of a measurement in a process of its own, so that its work (serving a large image,
 * writing an object to disk, reading and dropping an upload) neither shares an event loop with
 * another server nor counts in the measured process's memory. It prints one line of JSON with
 * its address once listening, and runs until its stdin closes (the parent ended or let it go).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStorage } from '#local/runtime/storage.ts';
import { loadSynthesizedApp } from '#local/runtime/synthesis.ts';
import { startSimulator } from '#local/simulator/index.ts';
import { startDiscardingS3 } from '../lib/discarding-s3.ts';

export type ServerSpec =
  | { readonly kind: 'simulator'; readonly imagePadBytes: number }
  | { readonly kind: 'local-storage'; readonly cacheDir: string }
  | { readonly kind: 'discarding-s3' };

export interface ServerReady {
  /** The simulator's base URL, or the S3 endpoint. */
  readonly url: string;
  readonly pid: number;
  /** The local S3 server's administrator credentials. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
const cleanups: Array<() => Promise<void>> = [];
let url: string;
let credentials: ServerReady['credentials'];
if (spec.kind === 'simulator') {
  const simulator = await startSimulator({ latencyMs: 0, imagePadBytes: spec.imagePadBytes });
  cleanups.push(() => simulator.close());
  url = simulator.url;
} else if (spec.kind === 'local-storage') {
  const app = await loadSynthesizedApp(spec.cacheDir);
  const dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-bench-storage-'));
  const storage = await startLocalStorage({ dataDir, template: app.template });
  cleanups.push(
    () => storage.close(),
    () => rm(dataDir, { recursive: true, force: true }),
  );
  url = storage.s3Endpoint;
  credentials = storage.credentials;
} else if (spec.kind === 'discarding-s3') {
  const discarding = await startDiscardingS3();
  cleanups.push(() => discarding.close());
  url = discarding.endpoint;
} else {
  throw new Error(`unknown server ${JSON.stringify(spec)}`);
}
process.stdout.write(
  `${JSON.stringify({ url, pid: process.pid, ...(credentials && { credentials }) } satisfies ServerReady)}\n`,
);
process.stdin.resume();
process.stdin.on('end', async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  process.exit(0);
});
