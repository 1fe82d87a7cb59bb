/**
 * Scenarios that measure a configuration run it in a fresh child process: the handler modules
 * read their configuration once, at import, exactly as a Lambda cold start does, so two polling
 * configurations cannot share a process — and a fresh process is also what a memory or
 * cold-start figure must be measured in.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapCommand } from '#infra/lambda-bootstrap.ts';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/**
 * Where a child started as Lambda starts a function finds its input and output files: nothing
 * follows the runtime script on the bootstrap's command line, so they are named in the environment.
 */
export const CHILD_INPUT_VARIABLE = 'SPARK_T2I_BENCH_INPUT';
export const CHILD_OUTPUT_VARIABLE = 'SPARK_T2I_BENCH_OUTPUT';

export interface ChildOptions {
  readonly timeoutMs: number;
  readonly env?: Record<string, string>;
  /** Extra node flags (e.g. --expose-gc), for a child started directly. */
  readonly nodeArgs?: readonly string[];
  /**
   * Starts the script as the Node runtime's bootstrap starts a function of this memory size
   * (`infra/lambda-bootstrap.ts`): node with the bootstrap's flags and the script last,
   * through `wrapper` (a path on this machine) when the function has an exec wrapper; the input
   * and output files named in `CHILD_INPUT_VARIABLE` and `CHILD_OUTPUT_VARIABLE`. The flags are
   * the bootstrap's alone, so `nodeArgs` is refused beside it. @default node is started directly
   */
  readonly asLambda?: { readonly memorySizeMb: number; readonly wrapper?: string | undefined };
  /** Progress lines of the child (its stderr). */
  readonly log?: (line: string) => void;
}

/** Runs `script input.json output.json` under this Node and answers what it wrote to output. */
export async function runChild<Output>(
  script: string,
  input: unknown,
  options: ChildOptions,
): Promise<Output> {
  const dir = await mkdtemp(join(tmpdir(), 'spark-t2i-bench-'));
  const inputFile = join(dir, 'input.json');
  const outputFile = join(dir, 'output.json');
  await writeFile(inputFile, JSON.stringify(input));
  try {
    const { file, args, env } = childCommand(script, inputFile, outputFile, options);
    const child = spawn(file, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...options.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    let pending = '';
    child.stderr.on('data', (chunk: Buffer) => {
      keep(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) options.log?.(line);
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} did not finish within ${options.timeoutMs} ms:\n${tail}`));
      }, options.timeoutMs);
      child.once('error', reject);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    if (code !== 0) throw new Error(`${script} exited with ${code}:\n${tail}`);
    return JSON.parse(await readFile(outputFile, 'utf8')) as Output;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The process `runChild` starts, and the variables it adds to the child's environment. */
function childCommand(
  script: string,
  inputFile: string,
  outputFile: string,
  options: ChildOptions,
): { file: string; args: readonly string[]; env: Record<string, string> } {
  if (options.asLambda === undefined) {
    const args = [...(options.nodeArgs ?? []), script, inputFile, outputFile];
    return { file: process.execPath, args, env: {} };
  }
  if (options.nodeArgs !== undefined) {
    throw new Error('runChild: nodeArgs beside asLambda; the bootstrap gives node its flags');
  }
  const { file, args } = bootstrapCommand({
    node: process.execPath,
    memorySizeMb: options.asLambda.memorySizeMb,
    runtimeScript: script,
    wrapper: options.asLambda.wrapper,
  });
  const env = { [CHILD_INPUT_VARIABLE]: inputFile, [CHILD_OUTPUT_VARIABLE]: outputFile };
  return { file, args, env };
}

/** The child side: reads its input, runs, writes its output, and exits. */
export async function childMain<Input, Output>(run: (input: Input) => Promise<Output>) {
  const [
    inputFile = process.env[CHILD_INPUT_VARIABLE],
    outputFile = process.env[CHILD_OUTPUT_VARIABLE],
  ] = process.argv.slice(2);
  if (!inputFile || !outputFile) {
    throw new Error(
      `usage: <script> INPUT.json OUTPUT.json, or ${CHILD_INPUT_VARIABLE} and ${CHILD_OUTPUT_VARIABLE} set`,
    );
  }
  const input = JSON.parse(await readFile(inputFile, 'utf8')) as Input;
  const output = await run(input);
  await writeFile(outputFile, JSON.stringify(output));
  // Servers and SDK sockets may linger; the answer is written, so end here.
  process.exit(0);
}

/** A progress line on stderr (the parent prints it). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export interface ServerProcess<Ready> {
  readonly ready: Ready;
  /** Closes its stdin (it shuts down) and waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Starts `script <json>` as a long-running server process and answers the first line it prints
 * (JSON), once it prints it. The server runs until `close()` ends its stdin.
 */
export async function startServerChild<Ready>(
  script: string,
  spec: unknown,
  options: { readonly timeoutMs: number; readonly log?: (line: string) => void },
): Promise<ServerProcess<Ready>> {
  const child = spawn(process.execPath, [script, JSON.stringify(spec)], {
    cwd: PROJECT_ROOT,
    env: process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) options.log?.(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<Ready>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const newline = pending.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(pending.slice(0, newline)) as Ready);
      } catch (error) {
        reject(error);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
  });
  return {
    ready,
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
