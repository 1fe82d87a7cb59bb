/**
 * Synthesizes the stack with its real esbuild bundling (what `cdk synth` and `cdk deploy` build),
 * into a folder under the project (so the SDK packages the bundles leave to the runtime resolve
 * from its node_modules, as they do from the Lambda runtime's), and lists each function's bundle and
 * the environment the stack gives it.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import { loadStackConfig } from '#infra/config.ts';
import { PipelineFunction } from '#infra/constructs/pipeline-function.ts';
import { SparkT2iStack } from '#infra/stack.ts';
import { childMain, PROJECT_ROOT, progress } from '../lib/child.ts';

export interface BundleListInput {
  readonly outDir: string;
}

export interface BundleInfo {
  readonly logicalId: string;
  readonly entryPoint: string;
  readonly file: string;
  readonly bytes: number;
  readonly memoryMb: number;
  readonly environment: Record<string, string>;
}

await childMain<BundleListInput, BundleInfo[]>(async ({ outDir }) => {
  await rm(outDir, { recursive: true, force: true });
  progress('bundles: synthesizing the stack with esbuild bundling');
  const app = new App({ outdir: outDir });
  const config = loadStackConfig((key) => app.node.tryGetContext(key), PROJECT_ROOT);
  const stack = new SparkT2iStack(app, 'SparkT2i', { config });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  const bundles: BundleInfo[] = [];
  for (const node of stack.node.findAll()) {
    if (!(node instanceof PipelineFunction)) continue;
    const logicalId = Stack.of(node).getLogicalId(node.node.defaultChild as never);
    const properties = template.Resources[logicalId]?.Properties ?? {};
    const key = String((properties.Code as { S3Key?: unknown } | undefined)?.S3Key ?? '');
    const hash = key.replace(/\.zip$/, '');
    const file = join(outDir, `asset.${hash}`, 'index.mjs');
    const variables =
      (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {};
    bundles.push({
      logicalId,
      entryPoint: node.entryPoint,
      file,
      bytes: (await stat(file)).size,
      memoryMb: Number(properties.MemorySize ?? 128),
      environment: resolveIntrinsics(variables, template) as Record<string, string>,
    });
  }
  return bundles;
});
