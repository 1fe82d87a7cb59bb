/**
 * The node-arguments exec wrapper, run the way the managed Node runtime's bootstrap runs it
 * (`infra/lambda-bootstrap.ts`: the wrapper, node, the bootstrap's flags for the memory
 * size, the runtime script last): it puts the function's NODE_ARGUMENTS after the bootstrap's
 * flags, so that for a V8 flag both give (the last one wins) the function's value is the one in
 * effect; a function given node arguments carries the script in its bundle with mode 0755 whatever
 * the umask of the synth; and a NODE_OPTIONS flag the bootstrap would override is refused at synth.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackConfig } from '../../infra/config.ts';
import {
  NODE_ARGUMENTS_WRAPPER_FILE,
  NODE_ARGUMENTS_WRAPPER_SCRIPT,
  nodeArgumentsEnvironment,
} from '../../infra/constructs/node-arguments.ts';
import { PipelineFunction, PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';
import { bootstrapCommand, bootstrapNodeFlags } from '../../infra/lambda-bootstrap.ts';
import { SparkT2iStack } from '../../infra/stack.ts';

/** A runtime script that reports how its process was started and V8's resulting heap limit. */
const PROBE = `import { getHeapStatistics } from 'node:v8';
console.log(JSON.stringify({
  execArgv: process.execArgv,
  argv: process.argv.slice(1),
  heapSizeLimit: getHeapStatistics().heap_size_limit,
}));
`;

interface Started {
  readonly execArgv: string[];
  readonly argv: string[];
  readonly heapSizeLimit: number;
}

let dir: string;
let wrapper: string;
/** The probe, in a folder whose name a shell would split and glob. */
let runtimeScript: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-wrapper-'));
  wrapper = join(dir, NODE_ARGUMENTS_WRAPPER_FILE);
  await writeFile(wrapper, NODE_ARGUMENTS_WRAPPER_SCRIPT);
  await chmod(wrapper, 0o755);
  await mkdir(join(dir, 'var runtime *'));
  runtimeScript = join(dir, 'var runtime *', 'index.mjs');
  await writeFile(runtimeScript, PROBE);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Starts `file args…` with only these variables (and PATH) and answers what the probe printed. */
function start(file: string, args: readonly string[], env: Record<string, string> = {}): Started {
  const result = spawnSync(file, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as Started;
}

/** Starts the probe as the bootstrap starts a function of `memorySizeMb`, through the wrapper. */
function startAsLambda(memorySizeMb: number, env: Record<string, string>): Started {
  const command = bootstrapCommand({
    node: process.execPath,
    memorySizeMb,
    runtimeScript,
    wrapper,
  });
  return start(command.file, command.args, env);
}

describe('CopyImages started as the Node runtime’s bootstrap starts it', () => {
  let memorySize: number;
  let variables: Record<string, string>;
  beforeAll(() => {
    // The deployed stack, synthesized in-process; the bundling-stacks context skips esbuild.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new SparkT2iStack(app, 'SparkT2i', { config: parseStackConfig({}) });
    const copy = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
      .filter(([id]) => /^\w*CopyImages[0-9A-F]{8}$/.test(id))
      .map(([, fn]) => fn.Properties);
    expect(copy).toHaveLength(1);
    memorySize = copy[0]?.MemorySize;
    variables = copy[0]?.Environment.Variables;
  });

  /** The words of one of the function's variables. */
  const words = (name: string) => (variables[name] ?? '').split(' ').filter(Boolean);

  it("puts the bootstrap's flags first, the function's NODE_ARGUMENTS after them, and the runtime script last", () => {
    expect(memorySize).toBe(512);
    expect(variables.AWS_LAMBDA_EXEC_WRAPPER).toBe(`/var/task/${NODE_ARGUMENTS_WRAPPER_FILE}`);
    const started = startAsLambda(memorySize, {
      NODE_OPTIONS: variables.NODE_OPTIONS ?? '',
      NODE_ARGUMENTS: variables.NODE_ARGUMENTS ?? '',
    });
    expect(started.execArgv).toEqual([
      ...bootstrapNodeFlags(memorySize),
      ...words('NODE_ARGUMENTS'),
    ]);
    expect(started.argv).toEqual([runtimeScript]);
  });

  it("runs with the function's own V8 flags in effect, not the values the bootstrap gives the same flags", () => {
    const env = {
      NODE_OPTIONS: variables.NODE_OPTIONS ?? '',
      NODE_ARGUMENTS: variables.NODE_ARGUMENTS ?? '',
    };
    // What the function asks for, wherever it puts it: every flag of its NODE_OPTIONS and its
    // NODE_ARGUMENTS given after the bootstrap's, straight on node's command line.
    const intended = start(process.execPath, [
      ...bootstrapNodeFlags(memorySize),
      ...words('NODE_OPTIONS'),
      ...words('NODE_ARGUMENTS'),
      runtimeScript,
    ]);
    const bootstrapAlone = start(
      process.execPath,
      bootstrapCommand({ node: process.execPath, memorySizeMb: memorySize, runtimeScript }).args,
    );
    // V8's heap limit is the old generation's plus the young generation's, sized from the
    // semi-space: it tells the function's 1 MiB semi-space from the bootstrap's 25 MiB one.
    expect(intended.heapSizeLimit).not.toBe(bootstrapAlone.heapSizeLimit);
    expect(startAsLambda(memorySize, env).heapSizeLimit).toBe(intended.heapSizeLimit);
  });
});

describe('the node-arguments wrapper', () => {
  it("passes the bootstrap's arguments as given, not split and not globbed, with the function's flags before the runtime script", () => {
    const started = startAsLambda(256, {
      NODE_ARGUMENTS: '--initial-old-space-size=64 --max-semi-space-size=1',
    });
    expect(started.execArgv).toEqual([
      '--expose-gc',
      '--max-http-header-size',
      '81920',
      '--max-semi-space-size=12',
      '--max-old-space-size=231',
      '--initial-old-space-size=64',
      '--max-semi-space-size=1',
    ]);
    expect(started.argv).toEqual([runtimeScript]);
  });

  it("starts node with the bootstrap's arguments alone when the function has no flags", () => {
    const expected = [...bootstrapNodeFlags(256)];
    expect(startAsLambda(256, {}).execArgv).toEqual(expected);
    expect(startAsLambda(256, { NODE_ARGUMENTS: '' }).execArgv).toEqual(expected);
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

describe('a function given a NODE_OPTIONS flag', () => {
  it.each([
    '--max-semi-space-size=1',
    '--max_semi_space_size=1',
    '--max-old-space-size=300',
    '--max-http-header-size=16384',
    '--expose-gc',
  ])('refuses %s, which the bootstrap sets again after NODE_OPTIONS', (flag) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Options');
    expect(
      () =>
        new PipelineFunction(stack, 'Options', {
          entryPoint: 'copy-images',
          description: 'a flag NODE_OPTIONS cannot carry on Lambda',
          nodeOptions: [flag],
        }),
    ).toThrow(/bootstrap sets .* on node's command line.*nodeArguments/);
  });

  it('accepts a flag the bootstrap does not set, after --enable-source-maps', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Options');
    new PipelineFunction(stack, 'Options', {
      entryPoint: 'copy-images',
      description: 'a flag NODE_OPTIONS carries',
      nodeOptions: ['--stack-trace-limit=50'],
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          NODE_OPTIONS: '--enable-source-maps --stack-trace-limit=50',
        }),
      },
    });
  });
});
