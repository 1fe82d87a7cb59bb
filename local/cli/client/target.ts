/**
 * Where a command sends its requests, in this order: the flags (`--api URL` with `--key KEY`, or
 * `--data-dir DIR`), then the environment (`SPARK_T2I_API_URL`, `SPARK_T2I_API_KEY`), then the
 * local runtime serving the data dir (`.spark-t2i` by default), found through its
 * `runtime.json` and `endpoints.json`. Only one process can open a data dir, so a runtime that
 * is running (its pid alive and its API answering) is always used over HTTP; commands that may
 * (generate, batch) start one in this process when none is.
 */

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UsageError } from '#local/cli/args.ts';
import type { Endpoints } from '#local/runtime/runtime.ts';
import { ApiKeyStore } from '#shared/api/keys.ts';
import { ApiClient } from './api-client.ts';

export const DEFAULT_DATA_DIR = '.spark-t2i';
export const ENV_API_URL = 'SPARK_T2I_API_URL';
export const ENV_API_KEY = 'SPARK_T2I_API_KEY';

/** `<data-dir>/endpoints.json` (docs/local-runtime.md), as the runtime writes it. */
export type LocalEndpoints = Endpoints;

/** `<data-dir>/runtime.json`. */
export interface LocalRuntimeInfo {
  readonly pid: number;
  /** Base URL of the control server (`/__local/schedules…`). */
  readonly control: string;
  /** A file whose first line is the local owner's API key. */
  readonly apiKeyFile: string;
  readonly tables: {
    readonly generations: string;
    readonly apiKeys: string;
    readonly idempotency?: string;
  };
}

export interface LocalFiles {
  readonly dataDir: string;
  readonly endpoints: LocalEndpoints;
  readonly runtime: LocalRuntimeInfo;
}

export interface Target {
  readonly client: ApiClient;
  /** `remote`: a deployed API; `local`: a running local runtime; `in-process`: started here. */
  readonly kind: 'remote' | 'local' | 'in-process';
  /** The local runtime's files (kinds `local` and `in-process`). */
  readonly local?: LocalFiles;
  /** Stops what this target started (an in-process runtime); a no-op otherwise. */
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly api?: string | undefined;
  readonly key?: string | undefined;
  readonly dataDir?: string | undefined;
  /** Start a local runtime in this process when none serves the data dir. */
  readonly startIfNeeded?: boolean;
  /** Progress lines for a person (stderr). */
  readonly log?: (line: string) => void;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  const env = options.env ?? process.env;
  const apiUrl = options.api ?? (options.dataDir === undefined ? env[ENV_API_URL] : undefined);
  if (apiUrl !== undefined && apiUrl !== '') {
    const source = options.api !== undefined ? '--api' : ENV_API_URL;
    checkUrl(source, apiUrl);
    const key = options.key ?? env[ENV_API_KEY];
    if (key === undefined || key === '') {
      throw new UsageError(`${source} needs an API key: --key KEY or env ${ENV_API_KEY}`);
    }
    return { client: new ApiClient(apiUrl, key), kind: 'remote', close: async () => undefined };
  }

  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const running = await findRunningRuntime(dataDir);
  if (running) {
    const key = options.key ?? (await readApiKey(running.runtime.apiKeyFile));
    return {
      client: new ApiClient(running.endpoints.api, key),
      kind: 'local',
      local: running,
      close: async () => undefined,
    };
  }
  if (!options.startIfNeeded) throw new NoLocalRuntimeError(dataDir);

  options.log?.(`no runtime serves ${dataDir}: starting one in this process…`);
  const { startLocalRuntime } = await import('#local/runtime/runtime.ts');
  let runtime: Awaited<ReturnType<typeof startLocalRuntime>>;
  try {
    runtime = await startLocalRuntime({
      dataDir,
      port: 0,
      ...(env.SPARK_T2I_CACHE_DIR && { cacheDir: env.SPARK_T2I_CACHE_DIR }),
      ...(options.log && { log: options.log }),
    });
  } catch (error) {
    throw new Error(
      `cannot start the local runtime in ${dataDir}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  try {
    const local = await readLocalFiles(dataDir);
    return {
      client: new ApiClient(runtime.endpoints.api, options.key ?? runtime.apiKey),
      kind: 'in-process',
      local,
      close: () => runtime.close(),
    };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

/** No local runtime serves the data dir, and the command does not start one. */
export class NoLocalRuntimeError extends Error {
  constructor(dataDir: string) {
    super(
      `no local runtime serves ${dataDir}: start one with "npx spark-t2i serve --data-dir ${dataDir}" (or "npm start"), or pass --api URL --key KEY`,
    );
    this.name = 'NoLocalRuntimeError';
  }
}

/**
 * The local runtime serving the data dir: its `runtime.json` names a live process and its API
 * answers. `undefined` when there is none (no files, a dead pid, an API that does not answer).
 */
export async function findRunningRuntime(dataDir: string): Promise<LocalFiles | undefined> {
  let local: LocalFiles;
  try {
    local = await readLocalFiles(dataDir);
  } catch {
    return undefined;
  }
  if (!isAlive(local.runtime.pid)) return undefined;
  try {
    // A route the gateway answers itself (no function is invoked, so no cold start to wait on).
    await fetch(`${local.endpoints.api.replace(/\/+$/, '')}/__alive`, {
      signal: AbortSignal.timeout(5000),
    }).then((response) => response.body?.cancel());
    return local;
  } catch {
    return undefined;
  }
}

/** Like {@link findRunningRuntime}, but an absent runtime is a clear error. */
export async function requireRunningRuntime(dataDir: string | undefined): Promise<LocalFiles> {
  const dir = resolve(dataDir ?? DEFAULT_DATA_DIR);
  const local = await findRunningRuntime(dir);
  if (!local) throw new NoLocalRuntimeError(dir);
  return local;
}

export async function readLocalFiles(dataDir: string): Promise<LocalFiles> {
  const read = async (name: string) =>
    JSON.parse(await readFile(join(dataDir, name), 'utf8')) as unknown;
  const endpoints = (await read('endpoints.json')) as LocalEndpoints;
  const runtime = (await read('runtime.json')) as LocalRuntimeInfo;
  if (typeof endpoints?.api !== 'string' || typeof runtime?.pid !== 'number') {
    throw new Error(`${dataDir} holds no local runtime files`);
  }
  return { dataDir, endpoints, runtime };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readApiKey(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read the local API key from ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass --key KEY`,
    );
  }
  const key = text.split(/\r?\n/)[0]?.trim();
  if (!key) throw new Error(`no API key in ${file}; pass --key KEY`);
  return key;
}

function checkUrl(source: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `${source} must be a URL such as https://abc.execute-api…/v1, got "${value}"`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${source} must be an http(s) URL, got "${value}"`);
  }
}

/** The same --api/--key/--data-dir options on every command that talks to the API. */
export const TARGET_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

/**
 * The target of a command that may start a local runtime, telling a person its progress on
 * stderr (stdout stays the command's answer).
 */
export function resolveTargetTelling(
  values: Parameters<typeof targetOf>[0],
  startIfNeeded: boolean,
): Promise<Target> {
  return resolveTarget({
    ...targetOf(values),
    startIfNeeded,
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

/** What {@link TARGET_OPTIONS} parsed into, as {@link resolveTarget} takes it. */
export function targetOf(values: {
  readonly api?: string | undefined;
  readonly key?: string | undefined;
  readonly 'data-dir'?: string | undefined;
}): Pick<TargetOptions, 'api' | 'key' | 'dataDir'> {
  return { api: values.api, key: values.key, dataDir: values['data-dir'] };
}

export const TARGET_USAGE = `  --api URL              a deployed API (the stack's ApiUrl output; or env ${ENV_API_URL})
  --key KEY              API key (or env ${ENV_API_KEY}); locally the runtime's own key
  --data-dir DIR         the local runtime's data dir (default ${DEFAULT_DATA_DIR})`;

/** The API key table of a local runtime, through its DynamoDB endpoint. */
export function localApiKeyStore(local: LocalFiles): ApiKeyStore {
  const client = new DynamoDBClient({
    endpoint: local.endpoints.dynamodb.endpoint,
    region: local.endpoints.dynamodb.region,
    // The local servers take any credentials; endpoints.json names the ones the runtime uses.
    credentials: {
      accessKeyId: local.endpoints.s3.accessKeyId,
      secretAccessKey: local.endpoints.s3.secretAccessKey,
    },
  });
  return new ApiKeyStore(DynamoDBDocumentClient.from(client), local.runtime.tables.apiKeys);
}
