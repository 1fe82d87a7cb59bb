/**
 * The Spark provider the functions call: the simulator on the runtime's host, or a real provider
 * when its base URL is given (its key then from env `SPARK_API_KEY`, which is required).
 */
import { join } from 'node:path';
import type { LocalRuntimeOptions } from '#local/runtime/types.ts';
import { parseFaultSpec } from '#local/simulator/faults.ts';
import { type RunningSimulator, startSimulator } from '#local/simulator/server.ts';

export interface SparkProvider {
  readonly baseUrl: string;
  /** The key the functions send, and the simulator checks. */
  readonly key: string;
  /** Set when the provider is the simulator (the runtime closes it). */
  readonly simulator: RunningSimulator | undefined;
}

export async function startSparkProvider(
  options: LocalRuntimeOptions,
  at: { readonly dataDir: string; readonly host: string; readonly apiKey: string | undefined },
): Promise<SparkProvider> {
  const simulated = options.sparkBaseUrl === undefined;
  // The simulator checks the key as the provider would: SPARK_API_KEY when given, else a local one.
  const key = at.apiKey || (simulated ? 'local-simulator-key' : undefined);
  if (!key) throw new Error('SPARK_API_KEY must be set to use --spark-base-url');
  if (!simulated) return { baseUrl: options.sparkBaseUrl as string, key, simulator: undefined };
  const simulator = await startSimulator({
    host: at.host,
    port: 0,
    latencyMs: options.simLatencyMs ?? 3000,
    jitterMs: options.simJitterMs ?? 0,
    maxConcurrent: options.simMaxConcurrent ?? 0,
    ...(options.simFaults && { faults: parseFaultSpec(options.simFaults) }),
    ...(options.simFaultSeed !== undefined && { faultSeed: options.simFaultSeed }),
    apiKey: key,
    // The simulator keeps its tasks across restarts, as a remote provider would.
    dataDir: join(at.dataDir, 'simulator'),
  });
  return { baseUrl: simulator.url, key, simulator };
}
