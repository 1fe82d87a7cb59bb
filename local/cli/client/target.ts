/**
 * Where a command sends its requests: a deployed API (`--api URL --key KEY`), the local runtime
 * already serving the data dir (`spark-t2i serve`), or — for commands that may — a local runtime
 * started in this process. Only one process can open a data dir, so a running one is always used.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Endpoints } from '../../runtime/runtime.ts';
import { UsageError } from '../args.ts';
import { ApiClient } from './api-client.ts';

export interface LocalFiles {
  readonly dataDir: string;
  readonly endpoints: Endpoints;
  readonly runtime: {
    readonly pid: number;
    readonly control: string;
    readonly apiKeyFile: string;
    readonly tables: { readonly generations: string; readonly apiKeys: string };
  };
}

export interface Target {
  readonly client: ApiClient;
  /** Set when the target is a local runtime (running or started here). */
  readonly local?: LocalFiles;
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly api?: string;
  readonly key?: string;
  readonly dataDir?: string;
  /** Start a local runtime in this process when none serves the data dir. */
  readonly startIfNeeded?: boolean;
  readonly log?: (line: string) => void;
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  if (options.api) {
    const key = options.key ?? process.env.SPARK_T2I_API_KEY;
    if (!key) throw new UsageError('--api needs --key KEY (or env SPARK_T2I_API_KEY)');
    return { client: new ApiClient(options.api, key), close: async () => undefined };
  }
  const dataDir = resolve(options.dataDir ?? '.spark-t2i');
  const running = await readRunningLocal(dataDir);
  if (running) {
    const key = options.key ?? (await readKey(running.runtime.apiKeyFile));
    return {
      client: new ApiClient(running.endpoints.api, key),
      local: running,
      close: async () => undefined,
    };
  }
  if (!options.startIfNeeded) {
    throw new Error(
      `no local runtime serves ${dataDir}: start one with "npm start" (or pass --api URL --key KEY)`,
    );
  }
  options.log?.(`starting the local runtime in ${dataDir}…`);
  const { startLocalRuntime } = await import('../../runtime/runtime.ts');
  const runtime = await startLocalRuntime({ dataDir, port: 0 });
  const local = await readLocalFiles(dataDir);
  return {
    client: new ApiClient(runtime.endpoints.api, options.key ?? runtime.apiKey),
    local,
    close: () => runtime.close(),
  };
}

/** The local runtime serving the data dir, when there is one and it answers. */
export async function readRunningLocal(dataDir: string): Promise<LocalFiles | undefined> {
  if (!existsSync(join(dataDir, 'runtime.json'))) return undefined;
  const local = await readLocalFiles(dataDir);
  try {
    process.kill(local.runtime.pid, 0);
  } catch {
    return undefined;
  }
  try {
    await fetch(`${local.endpoints.api}/openapi.json`, { signal: AbortSignal.timeout(2000) });
    return local;
  } catch {
    return undefined;
  }
}

export async function readLocalFiles(dataDir: string): Promise<LocalFiles> {
  const read = async (name: string) => JSON.parse(await readFile(join(dataDir, name), 'utf8'));
  return { dataDir, endpoints: await read('endpoints.json'), runtime: await read('runtime.json') };
}

async function readKey(file: string): Promise<string> {
  const key = (await readFile(file, 'utf8')).split('\n')[0]?.trim();
  if (!key) throw new Error(`no API key in ${file}`);
  return key;
}

/** The same --api/--key/--data-dir options on every command that talks to the API. */
export const TARGET_OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const TARGET_USAGE = `  --api URL              a deployed API (its ApiUrl output) instead of the local runtime
  --key KEY              API key for --api (or env SPARK_T2I_API_KEY)
  --data-dir DIR         the local runtime's data dir (default .spark-t2i)`;
