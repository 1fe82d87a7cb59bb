/**
 * Runs `spark-t2i serve` as a child process, the way a user does, and gives the test its
 * endpoints and key. Every runtime gets its own data dir; the synthesis cache is shared.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { signedFetch } from '../../local/aws/signed-fetch.ts';
import type { Endpoints } from '../../local/runtime/runtime.ts';
import { TEST_CACHE_DIR_VARIABLE } from './global-setup.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(PROJECT_ROOT, 'local', 'cli', 'bin.js');
/** One synthesis cache for every runtime the tests start (made by `global-setup.ts`). */
export const SHARED_CACHE_DIR =
  process.env[TEST_CACHE_DIR_VARIABLE] ?? mkdtempSync(join(tmpdir(), 'spark-t2i-cache-'));

export interface ServeOptions {
  readonly dataDir?: string;
  readonly timeScale?: number;
  readonly simLatencyMs?: number;
  readonly simFaults?: string;
  readonly simFaultSeed?: number;
  readonly simMaxConcurrent?: number;
  /** Stack config (written to a file and passed with --config). */
  readonly config?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  /** Extra `serve` arguments (`--iam-audit FILE` …). */
  readonly args?: readonly string[];
  /**
   * How long `serve` may take to print `ready`: a first start in a fresh clone synthesizes the
   * stack and builds every bundle. @default 60000
   */
  readonly readyTimeoutMs?: number;
}

export interface ServedRuntime {
  readonly dataDir: string;
  /** The stack config file it was started with, when a config was given. */
  readonly configFile: string | undefined;
  readonly endpoints: Endpoints;
  readonly apiKey: string;
  readonly process: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  api(path: string, init?: RequestInit & { key?: string }): Promise<Response>;
  s3(): S3Client;
  dynamodb(): DynamoDBDocumentClient;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
}

export async function serve(options: ServeOptions = {}): Promise<ServedRuntime> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'spark-t2i-data-'));
  const args = [
    CLI,
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--time-scale',
    String(options.timeScale ?? 0.01),
    '--sim-latency-ms',
    String(options.simLatencyMs ?? 200),
  ];
  if (options.args) args.push(...options.args);
  if (options.simFaults) args.push('--sim-faults', options.simFaults);
  if (options.simFaultSeed !== undefined)
    args.push('--sim-fault-seed', String(options.simFaultSeed));
  if (options.simMaxConcurrent) args.push('--sim-max-concurrent', String(options.simMaxConcurrent));
  let configFile: string | undefined;
  if (options.config) {
    // Named by its content in the shared cache: runtimes of the same config share a synthesis
    // (the synthesis is keyed by the config file's path and content).
    const text = JSON.stringify(options.config);
    const name = `config-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`;
    configFile = join(SHARED_CACHE_DIR, name);
    writeFileSync(configFile, text);
    args.push('--config', configFile);
  }
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, SPARK_T2I_CACHE_DIR: SHARED_CACHE_DIR, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  // A runtime never outlives the test process, even when a test times out before stopping it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not get ready:\n${output}`));
    }, options.readyTimeoutMs ?? 60_000);
    const check = () => {
      if (/^ready/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
  const endpoints = JSON.parse(
    await readFile(join(dataDir, 'endpoints.json'), 'utf8'),
  ) as Endpoints;
  const apiKey = (await readFile(join(dataDir, 'local-api-key'), 'utf8')).trim();
  let s3: S3Client | undefined;
  let dynamodb: DynamoDBDocumentClient | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    dataDir,
    configFile,
    endpoints,
    apiKey,
    process: child,
    output: () => output,
    api: (path, init = {}) =>
      fetch(`${endpoints.api}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${init.key ?? apiKey}`,
          ...(init.body !== undefined && { 'content-type': 'application/json' }),
          ...(init.headers as Record<string, string>),
        },
      }),
    s3: () => {
      s3 ??= new S3Client({
        endpoint: endpoints.s3.endpoint,
        region: endpoints.s3.region,
        credentials: {
          accessKeyId: endpoints.s3.accessKeyId,
          secretAccessKey: endpoints.s3.secretAccessKey,
        },
        forcePathStyle: true,
      });
      return s3;
    },
    dynamodb: () => {
      dynamodb ??= DynamoDBDocumentClient.from(
        new DynamoDBClient({
          endpoint: endpoints.dynamodb.endpoint,
          region: endpoints.dynamodb.region,
          credentials: {
            accessKeyId: endpoints.s3.accessKeyId,
            secretAccessKey: endpoints.s3.secretAccessKey,
          },
        }),
      );
      return dynamodb;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface GenerationView {
  readonly id: string;
  readonly status: string;
  readonly error?: { code: string; message: string };
  readonly images: Array<{
    url: string;
    bucket: string;
    key: string;
    size: number;
    sha256: string;
    width: number;
    height: number;
    contentType: string;
  }>;
  readonly [key: string]: unknown;
}

/** Calls `probe` every 100 ms until it answers a value (a throw counts as no answer yet). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Polls GET /generations/{id} until the generation is terminal. */
export async function waitForTerminal(
  runtime: ServedRuntime,
  id: string,
  timeoutMs = 30_000,
  key?: string,
): Promise<GenerationView> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const response = await runtime.api(`/generations/${id}`, key === undefined ? {} : { key });
    last = await response.json();
    const view = last as GenerationView;
    if (response.ok && ['completed', 'failed', 'cancelled'].includes(view.status)) return view;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `generation ${id} not terminal after ${timeoutMs} ms: ${JSON.stringify(last)}\n${runtime.output()}`,
  );
}

export async function submit(
  runtime: ServedRuntime,
  request: Record<string, unknown>,
): Promise<string> {
  const response = await runtime.api('/generations', {
    method: 'POST',
    body: JSON.stringify(request),
  });
  const body = (await response.json()) as { id: string };
  if (response.status !== 202)
    throw new Error(`POST /generations answered ${response.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/**
 * A request to the runtime's admin routes (`/__local/…` on its control endpoint), signed with the
 * administrator's credentials of endpoints.json, as the CLI signs it.
 */
export async function adminRoute(
  runtime: Pick<ServedRuntime, 'dataDir' | 'endpoints'>,
  path: string,
  init: { readonly method?: string; readonly body?: string } = {},
): Promise<Response> {
  const { control } = JSON.parse(await readFile(join(runtime.dataDir, 'runtime.json'), 'utf8')) as {
    control: string;
  };
  return signedFetch(`${control}${path}`, {
    ...init,
    credentials: {
      accessKeyId: runtime.endpoints.s3.accessKeyId,
      secretAccessKey: runtime.endpoints.s3.secretAccessKey,
    },
  });
}

/** Every generation record the filter keeps, read across the table's scan pages. */
export async function scanGenerations(
  runtime: ServedRuntime,
  filter: Pick<
    ScanCommandInput,
    'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
  >,
): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await runtime.dynamodb().send(
      new ScanCommand({
        TableName: runtime.endpoints.dynamodb.tableName,
        ...filter,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
