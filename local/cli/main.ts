/**
 * The `spark-t2i` command line: one module per command under `commands/`, each with its own
 * `--help`. Errors are one line on stderr with a non-zero exit code, never a stack trace.
 */
import { UsageError } from './args.ts';
import { batchCommand } from './commands/batch.ts';
import { generateCommand } from './commands/generate.ts';
import { keysCommand } from './commands/keys.ts';
import { listCommand } from './commands/list.ts';
import { schedulesCommand } from './commands/schedules.ts';
import { serveCommand } from './commands/serve.ts';
import { simulatorCommand } from './commands/simulator.ts';
import { statusCommand } from './commands/status.ts';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Runs the command; resolves with the process exit code. */
  run(argv: string[]): Promise<number>;
}

const commands: readonly Command[] = [
  serveCommand,
  generateCommand,
  batchCommand,
  statusCommand,
  listCommand,
  keysCommand,
  schedulesCommand,
  simulatorCommand,
];

function help(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'Usage: spark-t2i <command> [options]',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Run "spark-t2i <command> --help" for the options of a command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    console.error(`spark-t2i: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      console.error(`spark-t2i ${name}: ${(error as Error).message}`);
      console.error(`Run "spark-t2i ${name} --help" for usage.`);
      return 2;
    }
    console.error(`spark-t2i ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** node:util parseArgs rejects unknown or malformed options with ERR_PARSE_ARGS_* codes. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
