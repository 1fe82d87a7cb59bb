/** How the simulator is started: its options, their defaults and their checks. */
import { DEFAULT_FAULT_SEED, type FaultRates } from '#local/simulator/faults.ts';

/** How the simulator is started; every field has the default of `npx spark-t2i simulator`. */
export interface SimulatorOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks any free port. @default 0 */
  readonly port?: number;
  /** Wall-clock time from creation to a terminal status. @default 3000 */
  readonly latencyMs?: number;
  /** Each task's latency is moved by a uniform amount in ±jitterMs (never below 0). @default 0 */
  readonly jitterMs?: number;
  /** Unfinished tasks allowed at once; 0 = unlimited. @default 0 */
  readonly maxConcurrent?: number;
  /** Fault rates, e.g. from {@link parseFaultSpec}. @default {} */
  readonly faults?: FaultRates;
  /** Seed of the fault (and jitter) generator. @default 1 */
  readonly faultSeed?: number;
  /** Image URLs answer 403 this many seconds after their task completed. @default 3600 */
  readonly urlTtlS?: number;
  /** When set, only this Bearer key is accepted; otherwise any non-empty one. */
  readonly apiKey?: string;
  /** How long a `slow` fault holds its answer (past a typical client timeout). @default 30000 */
  readonly slowMs?: number;
  /** Keep tasks (and the URL signing secret) here so a restart keeps answering for them. */
  readonly dataDir?: string;
  /** @default '/v1/images/generations' */
  readonly createPath?: string;
  /** Must contain `{id}` once. @default '/v1/tasks/{id}' */
  readonly taskPath?: string;
  /** Pad every image to at least this many bytes (benchmarks of large copies). */
  readonly imagePadBytes?: number;
}

/** Options that cannot work (a negative latency, a task path without `{id}`…). */
export class SimulatorOptionsError extends Error {
  override readonly name = 'SimulatorOptionsError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly maxConcurrent: number;
  readonly faults: FaultRates;
  readonly faultSeed: number;
  readonly urlTtlS: number;
  readonly apiKey: string | undefined;
  readonly slowMs: number;
  readonly dataDir: string | undefined;
  readonly createPath: string;
  readonly taskPath: string;
  readonly imagePadBytes: number;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  latencyMs: 3000,
  jitterMs: 0,
  maxConcurrent: 0,
  faultSeed: DEFAULT_FAULT_SEED,
  urlTtlS: 3600,
  slowMs: 30_000,
  createPath: '/v1/images/generations',
  taskPath: '/v1/tasks/{id}',
} as const;

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    host: options.host ?? DEFAULTS.host,
    port: options.port ?? DEFAULTS.port,
    latencyMs: options.latencyMs ?? DEFAULTS.latencyMs,
    jitterMs: options.jitterMs ?? DEFAULTS.jitterMs,
    maxConcurrent: options.maxConcurrent ?? DEFAULTS.maxConcurrent,
    faults: options.faults ?? {},
    faultSeed: options.faultSeed ?? DEFAULTS.faultSeed,
    urlTtlS: options.urlTtlS ?? DEFAULTS.urlTtlS,
    apiKey: options.apiKey,
    slowMs: options.slowMs ?? DEFAULTS.slowMs,
    dataDir: options.dataDir,
    createPath: options.createPath ?? DEFAULTS.createPath,
    taskPath: options.taskPath ?? DEFAULTS.taskPath,
    imagePadBytes: options.imagePadBytes ?? 0,
  };
  checkOptions(resolved);
  return resolved;
}

export function checkOptions(options: ResolvedOptions): void {
  const nonNegative = {
    latencyMs: options.latencyMs,
    jitterMs: options.jitterMs,
    maxConcurrent: options.maxConcurrent,
    urlTtlS: options.urlTtlS,
    slowMs: options.slowMs,
    imagePadBytes: options.imagePadBytes,
  };
  for (const [name, value] of Object.entries(nonNegative)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new SimulatorOptionsError(`${name} must be a number ≥ 0, got ${value}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new SimulatorOptionsError(`port must be an integer from 0 to 65535, got ${options.port}`);
  }
  if (!Number.isInteger(options.maxConcurrent)) {
    throw new SimulatorOptionsError(
      `maxConcurrent must be an integer, got ${options.maxConcurrent}`,
    );
  }
  if (options.apiKey !== undefined && options.apiKey.trim() === '') {
    throw new SimulatorOptionsError('apiKey must not be empty when given');
  }
  if (!options.createPath.startsWith('/')) {
    throw new SimulatorOptionsError(`createPath must start with "/", got "${options.createPath}"`);
  }
  if (!options.taskPath.startsWith('/') || options.taskPath.split('{id}').length !== 2) {
    throw new SimulatorOptionsError(
      `taskPath must start with "/" and contain {id} once, got "${options.taskPath}"`,
    );
  }
}
