/** Small, strict helpers for CLI options: a bad value is a one-line usage error, never a stack. */

import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { Command } from '#local/cli/main.ts';

/** A mistake in how the command was called; the CLI prints it and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function integerOption(
  name: string,
  value: string | undefined,
  fallback: number,
  bounds: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(number)) {
    throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  }
  if (bounds.min !== undefined && number < bounds.min) {
    throw new UsageError(`--${name} must be at least ${bounds.min}, got ${number}`);
  }
  if (bounds.max !== undefined && number > bounds.max) {
    throw new UsageError(`--${name} must be at most ${bounds.max}, got ${number}`);
  }
  return number;
}

/** Waits for SIGINT or SIGTERM, once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The one positional argument a command takes; a usage error naming it otherwise. */
export function onePositional(positionals: readonly string[], what: string): string {
  const [value] = positionals;
  if (value === undefined || positionals.length !== 1) throw new UsageError(`give one ${what}`);
  return value;
}

/** True when argv asks for help; commands answer it themselves, as main does. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/**
 * A command whose `run` takes its arguments parsed strictly (an unknown option is a usage error)
 * with its positionals; `--help` prints the usage instead. `prepare` rewrites argv first.
 */
export function defineCommand<const Options extends ParseArgsOptionsConfig>(spec: {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly prepare?: (argv: string[]) => string[];
  run(args: NonNullable<ReturnType<typeof commandArgs<Options>>>): Promise<number>;
}): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    async run(argv) {
      const args = commandArgs(spec.prepare?.(argv) ?? argv, spec.usage, spec.options);
      return args === undefined ? 0 : spec.run(args);
    },
  };
}

/**
 * A command's arguments, parsed strictly (an unknown option is a usage error), with positionals;
 * `undefined` when they ask for help, which has then been printed.
 */
export function commandArgs<const Options extends ParseArgsOptionsConfig>(
  argv: string[],
  usage: string,
  options: Options,
) {
  if (wantsHelp(argv)) {
    console.log(usage);
    return undefined;
  }
  return parseArgs({ args: argv, strict: true, allowPositionals: true, options });
}
