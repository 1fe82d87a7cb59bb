/**
 * How the managed Node.js runtime's bootstrap (`/var/runtime/bootstrap`) starts a function's
 * process, so the local Lambda, the benchmarks and the tests start node exactly as Lambda does:
 *
 *   node --expose-gc --max-http-header-size 81920 --max-semi-space-size=<m/10/2>
 *        --max-old-space-size=<m - m/10> /var/runtime/index.mjs
 *
 * and, when `AWS_LAMBDA_EXEC_WRAPPER` is set, `exec -- "$wrapper" <node> <those arguments>`:
 * exit 127 when the wrapper does not exist, 126 when it is not executable.
 */
import { accessSync, constants, existsSync } from 'node:fs';

/**
 * The flags the bootstrap gives node for a function of `memorySizeMb`. Integer division, as the
 * script's `expr` does: the young generation a tenth of the memory (two semi-spaces), the old
 * generation the rest.
 */
export function bootstrapNodeFlags(memorySizeMb: number): string[] {
  const newSpace = Math.floor(memorySizeMb / 10);
  const semiSpace = Math.floor(newSpace / 2);
  const oldSpace = memorySizeMb - newSpace;
  return [
    '--expose-gc',
    '--max-http-header-size',
    '81920',
    `--max-semi-space-size=${semiSpace}`,
    `--max-old-space-size=${oldSpace}`,
  ];
}

/** A process to start: the file to execute and its arguments. */
export interface BootstrapCommand {
  readonly file: string;
  readonly args: readonly string[];
}

/** Why the bootstrap would not start the runtime (its exit code and message). */
export class BootstrapRefusedError extends Error {
  readonly exitCode: 126 | 127;

  constructor(exitCode: 126 | 127, message: string) {
    super(message);
    this.name = 'BootstrapRefusedError';
    this.exitCode = exitCode;
  }
}

/**
 * The command the bootstrap executes for a function: `node` (the runtime's binary), the flags of
 * its memory size, then `runtimeScript`; through `wrapper` (a path on this machine, already
 * resolved from `AWS_LAMBDA_EXEC_WRAPPER`) when the function has one, refused as the bootstrap
 * refuses a missing or non-executable wrapper.
 */
export function bootstrapCommand(options: {
  readonly node: string;
  readonly memorySizeMb: number;
  readonly runtimeScript: string;
  readonly wrapper?: string | undefined;
}): BootstrapCommand {
  const args = [...bootstrapNodeFlags(options.memorySizeMb), options.runtimeScript];
  const { wrapper } = options;
  if (wrapper === undefined) return { file: options.node, args };
  if (!existsSync(wrapper)) throw new BootstrapRefusedError(127, `${wrapper}: does not exist`);
  try {
    accessSync(wrapper, constants.X_OK);
  } catch {
    throw new BootstrapRefusedError(126, `${wrapper}: is not an executable`);
  }
  return { file: wrapper, args: [options.node, ...args] };
}
