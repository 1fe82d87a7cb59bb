/**
 * The node-arguments exec wrapper: run as Lambda runs it (the script, then node, then the
 * runtime's own arguments), it starts node with the function's NODE_ARGUMENTS first; and a
 * function given node arguments carries the script in its bundle with mode 0755 whatever the umask
 * of the synth.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NODE_ARGUMENTS_WRAPPER_FILE,
  NODE_ARGUMENTS_WRAPPER_SCRIPT,
  nodeArgumentsEnvironment,
} from '../../infra/constructs/node-arguments.ts';
import { PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';

const PRINT_ARGUMENTS =
  'console.log(JSON.stringify({ execArgv: process.execArgv, argv: process.argv.slice(1) }))';

describe('the node-arguments wrapper', () => {
  let dir: string;
  let wrapper: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spark-t2i-wrapper-'));
    wrapper = join(dir, NODE_ARGUMENTS_WRAPPER_FILE);
    await writeFile(wrapper, NODE_ARGUMENTS_WRAPPER_SCRIPT);
    await chmod(wrapper, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const run = (nodeArguments: string | undefined, runtimeArguments: string[]) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    if (nodeArguments !== undefined) env.NODE_ARGUMENTS = nodeArguments;
    const result = spawnSync(wrapper, [process.execPath, ...runtimeArguments], {
      env,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    return JSON.parse(result.stdout) as { execArgv: string[]; argv: string[] };
  };

  it("puts the function's flags between node and the runtime's own arguments", () => {
    const started = run('--initial-old-space-size=64 --max-semi-space-size=1', [
      '--expose-gc',
      '-e',
      PRINT_ARGUMENTS,
      'an argument with spaces',
      '*',
    ]);
    expect(started.execArgv).toEqual([
      '--initial-old-space-size=64',
      '--max-semi-space-size=1',
      '--expose-gc',
      '-e',
      PRINT_ARGUMENTS,
    ]);
    // The runtime's arguments pass as they were given: not split, not globbed.
    expect(started.argv).toEqual(['an argument with spaces', '*']);
  });

  it('starts node as given when the function has no flags', () => {
    expect(run(undefined, ['-e', PRINT_ARGUMENTS]).execArgv).toEqual(['-e', PRINT_ARGUMENTS]);
    expect(run('', ['-e', PRINT_ARGUMENTS]).execArgv).toEqual(['-e', PRINT_ARGUMENTS]);
  });

  it('refuses a flag the shell would split or expand', () => {
    expect(
      nodeArgumentsEnvironment(['--initial-old-space-size=64', '--max-semi-space-size=1']),
    ).toEqual({
      AWS_LAMBDA_EXEC_WRAPPER: '/var/task/node-arguments.sh',
      NODE_ARGUMENTS: '--initial-old-space-size=64 --max-semi-space-size=1',
    });
    for (const bad of ['--a b', '--x=$(id)', '-e', '--title=*', 'initial-old-space-size=64', '']) {
      expect(() => nodeArgumentsEnvironment([bad])).toThrow(/not a plain --flag/);
    }
  });
});

describe('a function with node arguments', () => {
  it('carries the wrapper in its bundle with mode 0755 when synthesized under umask 077, and names it to Lambda', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'spark-t2i-wrapper-synth-'));
    try {
      // The synth in a process of its own, started under the strictest umask a CI runner or a
      // developer's shell may have: the bundle's files must not take their mode from it.
      const synth = spawnSync(
        '/bin/sh',
        [
          '-c',
          'umask 077 && exec "$0" "$@"',
          process.execPath,
          join(PROJECT_ROOT, 'test', 'helpers', 'synth-wrapped-function.ts'),
          outdir,
        ],
        { cwd: PROJECT_ROOT, encoding: 'utf8' },
      );
      expect(synth.status, synth.stderr).toBe(0);
      expect(JSON.parse(synth.stdout)).toMatchObject({
        AWS_LAMBDA_EXEC_WRAPPER: '/var/task/node-arguments.sh',
        NODE_ARGUMENTS: '--initial-old-space-size=64',
      });
      // The function's asset is the one folder CDK staged in the assembly.
      const assetDirs = (await readdir(outdir)).filter((name) => name.startsWith('asset.'));
      expect(assetDirs).toHaveLength(1);
      const script = join(outdir, assetDirs[0] ?? '', NODE_ARGUMENTS_WRAPPER_FILE);
      expect(await readFile(script, 'utf8')).toBe(NODE_ARGUMENTS_WRAPPER_SCRIPT);
      expect((await stat(script)).mode & 0o777).toBe(0o755);
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});
