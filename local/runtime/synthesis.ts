/**
 * The deployed stack, synthesized for the local runtime: the template, the concrete ASL of the
 * state machine, and each function's handler module and environment. It is the same CDK app as
 * `cdk synth` (minus esbuild bundling, which the local runtime does not need: it loads the
 * handler sources), cached on disk and rebuilt only when the sources or the config change.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  type CfnTemplate,
  extractStateMachineDefinition,
  resolveIntrinsics,
} from '../../infra/asl.ts';
import { PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';

export interface LocalFunction {
  readonly logicalId: string;
  /** Folder under `functions/` holding `handler.ts`. */
  readonly entryPoint: string;
  /** The environment the stack gives it, with resource references resolved to local names. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

export interface SynthesizedApp {
  readonly template: CfnTemplate;
  /** The state machine definition, exactly as deployed but with local names and ARNs. */
  readonly asl: Record<string, unknown>;
  readonly stateMachineLogicalId: string;
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** The key of this synthesis in the cache (a hash of everything it depends on). */
  readonly sourceHash: string;
}

/** Stack configuration the local runtime always applies (design section 6: owner `local`). */
export const LOCAL_CONFIG_OVERRIDES = { defaultOwner: 'local' } as const;

const SOURCE_FOLDERS = ['infra', 'functions', 'shared'];
const SOURCE_FILES = ['cdk.json', 'spark-t2i.config.json', 'package-lock.json'];

export interface SynthesisOptions {
  /** A stack config file to use instead of the project's `spark-t2i.config.json`. */
  readonly configFile?: string;
}

/** Loads the synthesized app from the cache, or synthesizes it (a few seconds) and caches it. */
export async function loadSynthesizedApp(
  cacheDir: string,
  options: SynthesisOptions = {},
): Promise<SynthesizedApp> {
  const sourceHash = await hashSources(options.configFile);
  const cacheFile = join(cacheDir, `synth-${sourceHash.slice(0, 16)}.json`);
  if (existsSync(cacheFile)) {
    return JSON.parse(await readFile(cacheFile, 'utf8')) as SynthesizedApp;
  }
  const app = await synthesize(sourceHash, options);
  await mkdir(cacheDir, { recursive: true });
  await writeFile(cacheFile, JSON.stringify(app));
  return app;
}

async function synthesize(sourceHash: string, options: SynthesisOptions): Promise<SynthesizedApp> {
  // Imported here so a cached start does not pay for loading aws-cdk-lib.
  const [
    { App, Stack },
    { loadStackConfig, parseStackConfig },
    { SparkT2iStack },
    { PipelineFunction },
  ] = await Promise.all([
    import('aws-cdk-lib'),
    import('../../infra/config.ts'),
    import('../../infra/stack.ts'),
    import('../../infra/constructs/pipeline-function.ts'),
  ]);
  // The context `cdk synth` would read from cdk.json, without esbuild bundling.
  const cdkJson = JSON.parse(await readFile(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const app = new App({
    context: {
      ...cdkJson.context,
      ...(options.configFile && { configFile: options.configFile }),
      'aws:cdk:bundling-stacks': [],
    },
  });
  const fromProject = loadStackConfig((key) => app.node.tryGetContext(key), PROJECT_ROOT);
  const config = parseStackConfig({
    ...fromProject,
    ...LOCAL_CONFIG_OVERRIDES,
    schedules: fromProject.schedules,
  });
  const stack = new SparkT2iStack(app, 'SparkT2i', { config });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  const stateMachineLogicalId = stack.getLogicalId(
    stack.workflow.stateMachine.node.defaultChild as never,
  );
  const functions: Record<string, LocalFunction> = {};
  for (const node of stack.node.findAll()) {
    if (!(node instanceof PipelineFunction)) continue;
    const logicalId = Stack.of(node).getLogicalId(node.node.defaultChild as never);
    const properties = template.Resources[logicalId]?.Properties ?? {};
    const variables =
      (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {};
    functions[logicalId] = {
      logicalId,
      entryPoint: node.entryPoint,
      environment: resolveIntrinsics(variables, template) as Record<string, string>,
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memorySize: Number(properties.MemorySize ?? 128),
    };
  }
  return {
    template,
    asl: extractStateMachineDefinition(template, stateMachineLogicalId),
    stateMachineLogicalId,
    functions,
    sourceHash,
  };
}

/** A hash of every file the synthesized app depends on. */
async function hashSources(configFile?: string): Promise<string> {
  const hash = createHash('sha256');
  const files: string[] = configFile ? [configFile] : [];
  for (const folder of SOURCE_FOLDERS) files.push(...(await listFiles(join(PROJECT_ROOT, folder))));
  for (const file of SOURCE_FILES) {
    const path = join(PROJECT_ROOT, file);
    if (existsSync(path)) files.push(path);
  }
  for (const file of files.sort()) {
    hash.update(relative(PROJECT_ROOT, file));
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|js|json)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}
