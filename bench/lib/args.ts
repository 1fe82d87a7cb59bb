/** The benchmark's command line: `npm run bench [-- --quick] [--only a,b] [--out DIR]`. */
import { parseArgs } from 'node:util';

export const SCENARIOS = [
  'overhead',
  'batch',
  'copy-memory',
  'bundles',
  'batch-reads',
  'console',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchArgs {
  /** A shorter run (≤ 3 minutes): fewer generations and repetitions, same targets. */
  readonly quick: boolean;
  readonly only: readonly ScenarioName[];
  /** Where results go. @default 'bench/results' */
  readonly outDir: string;
}

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: { quick?: boolean; only?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        out: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const only = (values.only ?? SCENARIOS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new BenchUsageError(
        `--only: unknown scenario "${name}"; known: ${SCENARIOS.join(', ')}`,
      );
    }
  }
  return {
    quick: values.quick ?? false,
    only: only as ScenarioName[],
    outDir: values.out ?? 'bench/results',
  };
}
