/**
 * The deployed stack, synthesized for the local runtime: the template, the concrete ASL of the
 * state machine, and each function as the template declares it. It is the same CDK app as
 * `cdk synth`, assets included: each function's asset is the bundle `cdk synth` builds (the same
 * esbuild options, the same exec wrapper), in a cloud assembly in the cache. With `source` (the
 * `--from-source` shortcut) nothing is bundled and the functions run from their sources. Either is
 * cached on disk, keyed by a hash of every file it depends on, and rebuilt only when one changes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { type CfnTemplate, extractStateMachineDefinition, resolveIntrinsics } from '#infra/asl.ts';
import { BUNDLE_CACHE_CONTEXT, prebundle } from '#infra/constructs/bundle-cache.ts';
import { PROJECT_ROOT } from '#infra/project-root.ts';
import { roleNamedBy } from '#local/aws/template-roles.ts';
import type { LocalFunction } from '#local/lambda/service.ts';

export type { LocalFunction } from '#local/lambda/service.ts';

/** `bundles`: the functions' assets as `cdk synth` builds them; `source`: their sources. */
export type FunctionsMode = 'bundles' | 'source';

export interface SynthesizedApp {
  readonly template: CfnTemplate;
  /** The state machine definition, exactly as deployed but with local names and ARNs. */
  readonly asl: Record<string, unknown>;
  readonly stateMachineLogicalId: string;
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** The key of this synthesis in the cache (a hash of everything it depends on). */
  readonly sourceHash: string;
  readonly mode: FunctionsMode;
  /** The cloud assembly's folder, where the functions' assets are (`bundles` only). */
  readonly assemblyDir?: string;
}

/** Stack configuration the local runtime always applies (prompt files and schedules belong to the owner `local`). */
export const LOCAL_CONFIG_OVERRIDES = { defaultOwner: 'local' } as const;

const SOURCE_FOLDERS = ['infra', 'functions', 'shared', 'console'];
const CONFIG_FILES = ['cdk.json', 'spark-t2i.config.json'];

export interface SynthesisOptions {
  /** A stack config file to use instead of the project's `spark-t2i.config.json`. */
  readonly configFile?: string;
  /** @default 'bundles' */
  readonly mode?: FunctionsMode;
}

/** The synthesis's description in its folder in the cache. */
const APP_FILE = 'app.json';
/** A synthesis not used for this long is removed when another is made. */
const UNUSED_MS = 24 * 3_600_000;

/**
 * Loads the synthesized app from the cache, or synthesizes it and caches it: a few seconds, and
 * as long again to bundle every function. Each synthesis is made in a folder of its own and
 * renamed into place whole, so runtimes starting together on one cache never see half of one.
 */
export async function loadSynthesizedApp(
  cacheDir: string,
  options: SynthesisOptions = {},
): Promise<SynthesizedApp> {
  const mode = options.mode ?? 'bundles';
  const codeHash = await hashCode();
  const sourceHash = await hashSources(codeHash, options.configFile);
  // Bundles depend on the code only, not on the configuration: one folder per version of it.
  const bundleCache = join(cacheDir, `bundles-${codeHash.slice(0, 16)}`);
  const name = `synth-${mode}-${sourceHash.slice(0, 16)}`;
  const dir = join(cacheDir, name);
  const appFile = join(dir, APP_FILE);
  if (!existsSync(appFile)) {
    const building = join(cacheDir, `.${name}-${randomUUID()}`);
    await mkdir(building, { recursive: true });
    try {
      const app = await synthesize(sourceHash, mode, building, bundleCache, options);
      await writeFile(join(building, APP_FILE), JSON.stringify(app));
      await rename(building, dir).catch((error: NodeJS.ErrnoException) => {
        // Another runtime made the same synthesis meanwhile: theirs is as good.
        if (!existsSync(appFile)) throw error;
      });
    } finally {
      await rm(building, { recursive: true, force: true });
    }
    await removeUnused(cacheDir, name, basename(bundleCache));
  }
  const now = new Date();
  for (const used of [dir, bundleCache]) await utimes(used, now, now).catch(() => undefined);
  const app = JSON.parse(await readFile(appFile, 'utf8')) as SynthesizedApp;
  return mode === 'bundles' ? { ...app, assemblyDir: dir } : app;
}

/** Syntheses and bundles of other sources not used for a day (each holds every bundle). */
async function removeUnused(cacheDir: string, keep: string, keepBundles: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    if (!/^(synth|bundles)-/.test(entry) || entry === keep || entry === keepBundles) continue;
    const used = await stat(join(cacheDir, entry)).catch(() => undefined);
    if (used !== undefined && Date.now() - used.mtimeMs < UNUSED_MS) continue;
    await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
}

async function synthesize(
  sourceHash: string,
  mode: FunctionsMode,
  outdir: string,
  bundleCache: string,
  options: SynthesisOptions,
): Promise<SynthesizedApp> {
  // Imported here so a cached start does not pay for loading aws-cdk-lib.
  const [
    { App, Stack },
    { loadStackConfig, parseStackConfig },
    { SparkT2iStack },
    { PipelineFunction },
  ] = await Promise.all([
    import('aws-cdk-lib'),
    import('#infra/config.ts'),
    import('#infra/stack.ts'),
    import('#infra/constructs/pipeline-function.ts'),
  ]);
  // The context `cdk synth` reads from cdk.json, and the CLI's own: asset metadata on, every
  // stack bundled (or, from source, none).
  const cdkJson = JSON.parse(await readFile(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const construct = (assembly: string, bundling: boolean) => {
    const app = new App({
      outdir: assembly,
      // CDK's own check of the template against CloudFormation's rules takes seconds at every
      // synthesis; `cdk synth` and the stack's tests run it, the local runtime needs it once.
      builtinCloudFormationValidation: false,
      context: {
        ...cdkJson.context,
        ...(options.configFile && { configFile: options.configFile }),
        'aws:cdk:enable-asset-metadata': true,
        'aws:cdk:bundling-stacks': bundling ? ['**'] : [],
        [BUNDLE_CACHE_CONTEXT]: bundleCache,
      },
    });
    const fromProject = loadStackConfig((key) => app.node.tryGetContext(key), PROJECT_ROOT);
    const config = parseStackConfig({
      ...fromProject,
      ...LOCAL_CONFIG_OVERRIDES,
      schedules: fromProject.schedules,
    });
    const stack = new SparkT2iStack(app, 'SparkT2i', { config });
    const pipelineFunctions = stack.node
      .findAll()
      .filter(
        (node): node is InstanceType<typeof PipelineFunction> => node instanceof PipelineFunction,
      );
    return { app, stack, pipelineFunctions };
  };
  if (mode === 'bundles' && !existsSync(bundleCache)) {
    // The first synthesis of this code: its bundles are built side by side ahead (a second or
    // two to learn what they are), not one after another as CDK asks for them.
    const ahead = join(outdir, 'ahead');
    const { pipelineFunctions } = construct(ahead, false);
    await prebundle(
      bundleCache,
      pipelineFunctions.map((fn) => fn.bundle),
    );
    await rm(ahead, { recursive: true, force: true });
  }
  const { app, stack, pipelineFunctions } = construct(outdir, mode === 'bundles');
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  const stateMachineLogicalId = stack.getLogicalId(
    stack.workflow.stateMachine.node.defaultChild as never,
  );
  const functions: Record<string, LocalFunction> = {};
  for (const node of pipelineFunctions) {
    const logicalId = Stack.of(node).getLogicalId(node.node.defaultChild as never);
    const resource = template.Resources[logicalId];
    const properties = resource?.Properties ?? {};
    const variables =
      (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {};
    const logFormat = (properties.LoggingConfig as { LogFormat?: string } | undefined)?.LogFormat;
    const reserved = properties.ReservedConcurrentExecutions;
    const role = roleNamedBy(properties.Role);
    const asset = (resource?.Metadata as Record<string, unknown> | undefined)?.['aws:asset:path'];
    if (mode === 'bundles' && typeof asset !== 'string') {
      throw new Error(`The synthesized function ${logicalId} has no asset`);
    }
    functions[logicalId] = {
      logicalId,
      entryPoint: node.entryPoint,
      environment: resolveIntrinsics(variables, template) as Record<string, string>,
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memorySize: Number(properties.MemorySize ?? 128),
      runtime: String(properties.Runtime),
      handler: String(properties.Handler),
      ...(logFormat !== undefined && { logFormat }),
      ...(reserved !== undefined && { reservedConcurrency: Number(reserved) }),
      ...(role !== undefined && { roleLogicalId: role }),
      ...(mode === 'bundles' && { asset: String(asset) }),
    };
  }
  return {
    template,
    asl: extractStateMachineDefinition(template, stateMachineLogicalId),
    stateMachineLogicalId,
    functions,
    sourceHash,
    mode,
  };
}

/** A hash of the code: what the bundles and the stack are made of. */
async function hashCode(): Promise<string> {
  const files: string[] = [join(PROJECT_ROOT, 'package-lock.json')];
  for (const folder of SOURCE_FOLDERS) files.push(...(await listFiles(join(PROJECT_ROOT, folder))));
  return hashFiles(files);
}

/** A hash of every file the synthesized app depends on: the code and the configuration. */
async function hashSources(codeHash: string, configFile?: string): Promise<string> {
  const files = configFile ? [configFile] : [];
  for (const file of CONFIG_FILES) files.push(join(PROJECT_ROOT, file));
  return hashFiles(
    files.filter((file) => existsSync(file)),
    codeHash,
  );
}

async function hashFiles(files: readonly string[], prefix = ''): Promise<string> {
  const hash = createHash('sha256').update(prefix);
  for (const file of [...files].sort()) {
    hash.update(relative(PROJECT_ROOT, file));
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|js|json|css)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}
