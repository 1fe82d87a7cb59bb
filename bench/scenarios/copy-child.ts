/**
 * One large-image copy in a fresh process, its memory watched: either the pipeline's copy step
 * (the CopyImages handler, with the environment the stack gives it), a plain `fetch` → file copy,
 * or a plain `fetch` → HTTP PUT (a reference for what an upload to an endpoint process costs by
 * itself). Each first copies a small image the same way, so module loading and connection setup
 * are out of the figure; then RSS is sampled every 2 ms from a worker thread (RSS is the
 * process's) and checked against the process's own peak (`resourceUsage().maxRSS`), and the CPU
 * time of the copy is read for the process and for its main thread.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { childMain, PROJECT_ROOT } from '../lib/child.ts';

export type CopyMode = 'pipeline' | 'plain' | 'plain-put';

export interface CopyRunInput {
  readonly mode: CopyMode;
  /** Where the pipeline copy and the plain PUT upload (the S3 endpoint); unused by the file copy. */
  readonly sink: string;
  readonly s3Endpoint?: string;
  readonly url: string;
  readonly warmUrl: string;
  readonly request: { readonly width: number; readonly height: number };
  /** The servers' processes (name → pid), whose CPU time during the large copy is read too. */
  readonly servers: Readonly<Record<string, number>>;
}

export interface CopyRunOutput {
  readonly mode: CopyMode;
  readonly sink: string;
  /** The node flags the copy's process was started with, the bootstrap's and the function's. */
  readonly execArgv: readonly string[];
  readonly bytes: number;
  readonly seconds: number;
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
  readonly sampledPeakRssBytes: number;
  readonly maxRssGrewBytes: number;
  /** CPU time of the copy, all of the process's threads (user + system). */
  readonly cpuSeconds: number;
  /** CPU time of the copy on the main thread; null where /proc does not say. */
  readonly mainThreadCpuSeconds: number | null;
  /** CPU time of each server's process (all threads) during the copy; null where /proc does not say. */
  readonly serverCpuSeconds: Readonly<Record<string, number | null>>;
}

const SAMPLER = `
const { parentPort } = require('node:worker_threads');
let peak = 0;
const sample = () => { const rss = process.memoryUsage.rss(); if (rss > peak) peak = rss; };
setInterval(sample, 2);
parentPort.on('message', (message) => {
  if (message === 'reset') { peak = 0; sample(); parentPort.postMessage('ok'); }
  else { sample(); parentPort.postMessage(peak); }
});`;

await childMain<CopyRunInput, CopyRunOutput>(async (input) => {
  const sampler = new Worker(SAMPLER, { eval: true });
  const ask = (message: string) =>
    new Promise<number>((resolve) => {
      sampler.once('message', (answer) => resolve(typeof answer === 'number' ? answer : 0));
      sampler.postMessage(message);
    });
  const dir = await mkdtemp(join(tmpdir(), 'spark-t2i-copy-'));
  try {
    const copy =
      input.mode === 'pipeline'
        ? await pipelineCopy(input)
        : input.mode === 'plain-put'
          ? plainPut(input)
          : plainCopy(dir);
    await copy(input.warmUrl, 'warm');
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await sleep(100);
    }
    const baselineRssBytes = process.memoryUsage.rss();
    const maxRssBefore = process.resourceUsage().maxRSS * 1024;
    await ask('reset');
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuSeconds();
    const serversBefore = serverCpuSeconds(input.servers);
    const started = performance.now();
    const bytes = await copy(input.url, 'large');
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const mainAfter = mainThreadCpuSeconds();
    const serversAfter = serverCpuSeconds(input.servers);
    const sampledPeakRssBytes = await ask('peak');
    const maxRssAfter = process.resourceUsage().maxRSS * 1024;
    // maxRSS only says something about the copy when it rose during it.
    const maxRssGrewBytes = Math.max(0, maxRssAfter - maxRssBefore);
    const peakRssBytes = Math.max(sampledPeakRssBytes, maxRssGrewBytes > 0 ? maxRssAfter : 0);
    return {
      mode: input.mode,
      sink: input.sink,
      execArgv: process.execArgv,
      bytes,
      seconds,
      baselineRssBytes,
      peakRssBytes,
      sampledPeakRssBytes,
      maxRssGrewBytes,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      mainThreadCpuSeconds:
        mainBefore !== null && mainAfter !== null ? mainAfter - mainBefore : null,
      serverCpuSeconds: Object.fromEntries(
        Object.keys(input.servers).map((name) => {
          const before = serversBefore[name];
          const after = serversAfter[name];
          return [name, before != null && after != null ? after - before : null];
        }),
      ),
    };
  } finally {
    await sampler.terminate();
    await rm(dir, { recursive: true, force: true });
  }
});

type Copy = (url: string, name: string) => Promise<number>;

/** The CopyImages handler, invoked as Lambda would, with the stack's environment. */
async function pipelineCopy(input: CopyRunInput): Promise<Copy> {
  if (input.s3Endpoint) process.env.AWS_ENDPOINT_URL_S3 = input.s3Endpoint;
  const { handler } = (await import(
    join(PROJECT_ROOT, 'functions', 'copy-images', 'handler.ts')
  )) as {
    handler: (event: unknown, context: unknown) => Promise<{ images: Array<{ size: number }> }>;
  };
  const context = {
    functionName: 'CopyImages',
    awsRequestId: 'bench',
    getRemainingTimeInMillis: () => 300_000,
  };
  return async (url, name) => {
    const result = await handler(
      { id: `bench-${name}`, owner: 'local', request: input.request, images: [{ url }] },
      context,
    );
    return result.images[0]?.size ?? 0;
  };
}

/** The simplest streaming copy: fetch's body piped into a file. */
function plainCopy(dir: string): Copy {
  return async (url, name) => {
    const response = await fetch(url);
    if (!response.ok || !response.body) throw new Error(`GET ${url} answered ${response.status}`);
    const file = join(dir, `${name}.png`);
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
    return (await stat(file)).size;
  };
}

/**
 * The simplest streaming upload: fetch's body piped into a node:http PUT with its length, no
 * hash and no checksum, to the same endpoint the copy step uploads to.
 */
function plainPut(input: CopyRunInput): Copy {
  const endpoint = input.s3Endpoint;
  if (!endpoint) throw new Error('plain-put needs an endpoint');
  return async (url, name) => {
    const response = await fetch(url);
    if (!response.ok || !response.body) throw new Error(`GET ${url} answered ${response.status}`);
    const length = Number(response.headers.get('content-length'));
    const body = Readable.fromWeb(response.body as never);
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    const put = request(`${endpoint}/bench/${name}.png`, {
      method: 'PUT',
      headers: { 'content-length': length },
    });
    const answered = new Promise<number>((resolve, reject) => {
      put.once('response', (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      put.once('error', reject);
    });
    await pipeline(body, put);
    const status = await answered;
    if (status !== 200) throw new Error(`PUT answered ${status}`);
    return bytes;
  };
}

/** The main thread's CPU time (Linux: its schedstat), or null. */
function mainThreadCpuSeconds(): number | null {
  try {
    const schedstat = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
    return Number(schedstat.split(' ')[0]) / 1e9;
  } catch {
    return null;
  }
}

/** Each process's CPU time, all its threads (Linux: utime + stime of its stat), or null. */
function serverCpuSeconds(pids: Readonly<Record<string, number>>): Record<string, number | null> {
  // Linux's clock ticks per second for /proc times: USER_HZ, 100 on every architecture Node runs
  // on. (Declared in here: a module constant would not be initialised yet when the top-level
  // await above runs the copy.)
  const userHz = 100;
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // The fields after the command name, which is in parentheses and may hold spaces.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return [name, (Number(fields[11]) + Number(fields[12])) / userHz];
      } catch {
        return [name, null];
      }
    }),
  );
}
