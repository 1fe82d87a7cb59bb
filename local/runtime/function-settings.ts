/**
 * What each function gets locally besides the template's own environment, and where its code
 * is: the stack's variables the runtime needs, the local settings that replace the template's
 * (the provider's URL, scaled re-checks, the log level), and the one place the runtime reads its
 * own process's environment.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '#infra/project-root.ts';
import type { FunctionCode, LocalFunction } from '#local/lambda/service.ts';
import type { SynthesizedApp } from '#local/runtime/synthesis.ts';
import { CopyEnv, PollingEnv } from '#shared/config/env.ts';

/** What the runtime takes from the environment it was started in, read once. */
export interface HostEnvironment {
  /** `SPARK_API_KEY`: the real provider's key, or the simulator's when given. */
  readonly sparkApiKey: string | undefined;
  /** `SPARK_T2I_FUNCTION_LOG_EVENT=true`: every function logs the event it was invoked with. */
  readonly logFunctionEvents: boolean;
  /** `SPARK_T2I_FUNCTION_LOG_LEVEL`: the functions' log level unless the options name one. */
  readonly functionLogLevel: string | undefined;
}

export function hostEnvironment(env: NodeJS.ProcessEnv = process.env): HostEnvironment {
  return {
    sparkApiKey: env.SPARK_API_KEY || undefined,
    logFunctionEvents: env.SPARK_T2I_FUNCTION_LOG_EVENT === 'true',
    functionLogLevel: env.SPARK_T2I_FUNCTION_LOG_LEVEL,
  };
}

/**
 * The stack's variables, for the names the runtime itself needs (tables, buckets, the secret):
 * the first function's value of each.
 */
export function stackVariables(
  functions: Readonly<Record<string, LocalFunction>>,
): Readonly<Record<string, string>> {
  const variables: Record<string, string> = {};
  for (const fn of Object.values(functions)) {
    for (const [name, value] of Object.entries(fn.environment)) variables[name] ??= value;
  }
  return variables;
}

/**
 * The local settings a function gets: those replacing a variable the template gives it (the
 * provider's URL, the poll step's re-check timing, the log level), and the copy's exempt origin
 * for the function that copies images (the one with the copy's host rule).
 */
export function settingsFor(
  fn: LocalFunction,
  settings: Readonly<Record<string, string>>,
): Record<string, string> {
  const applies = (name: string) =>
    name in fn.environment ||
    (name === CopyEnv.insecureOrigins && CopyEnv.allowedHosts in fn.environment);
  return Object.fromEntries(Object.entries(settings).filter(([name]) => applies(name)));
}

/** The one runtime every function of the stack deploys to (`nodejs24.x`). */
export function commonRuntime(functions: Readonly<Record<string, LocalFunction>>): string {
  const runtimes = new Set(Object.values(functions).map((fn) => fn.runtime));
  if (runtimes.size !== 1) throw new Error(`The functions use several runtimes: ${[...runtimes]}`);
  return [...runtimes][0] as string;
}

/** Where a function's code is: its asset as synthesized, or (from source) its handler module. */
export function functionCode(app: SynthesizedApp, fn: LocalFunction): FunctionCode {
  if (app.mode === 'bundles' && app.assemblyDir !== undefined && fn.asset !== undefined) {
    return { taskRoot: join(app.assemblyDir, fn.asset), handler: fn.handler, faithful: true };
  }
  return {
    taskRoot: join(PROJECT_ROOT, 'functions', fn.entryPoint),
    handler: 'handler.handler',
    faithful: false,
  };
}

/**
 * The poll step's in-process re-checks are waits too: at another time scale they last as much
 * shorter as the Wait states do. Only their configuration changes; the handler is the same.
 */
export function scaledRecheck(
  environment: Readonly<Record<string, string>>,
  timeScale: number,
): Record<string, string> {
  const scaled: Record<string, string> = {};
  if (timeScale === 1) return scaled;
  for (const name of [PollingEnv.recheckSeconds, PollingEnv.recheckIntervalMs]) {
    const value = environment[name];
    if (value !== undefined) scaled[name] = String(Number(value) * timeScale);
  }
  return scaled;
}
