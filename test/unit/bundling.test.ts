/**
 * The bundler's import substitutions (PipelineFunction's `--alias` arguments), applied the way
 * `cdk synth` applies them, to a small entry point.
 */
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_ALIASES, PROJECT_ROOT } from '../../infra/constructs/pipeline-function.ts';

async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, resolveDir: PROJECT_ROOT, loader: 'ts' },
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    alias: { ...BUNDLE_ALIASES },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

describe('the function bundles', () => {
  it.each([
    "import http from 'node:http'; export const a = http.request;",
    "import { STATUS_CODES } from 'node:http'; export const a = STATUS_CODES;",
    "import * as http from 'http'; export const a = http.Agent;",
  ])('read node:http through CommonJS, never as an ESM import (%s)', async (source) => {
    const output = await bundle(source);

    expect(output).not.toMatch(/from\s*["'](node:)?http["']/);
    expect(output).toContain('process.getBuiltinModule("node:http")');
  });

  it('get the builtin module itself from the node:http substitute', () => {
    const substitute = createRequire(import.meta.url)(
      `${PROJECT_ROOT}/${BUNDLE_ALIASES['node:http']}`,
    ) as unknown;

    expect(substitute).toBe(process.getBuiltinModule('node:http'));
  });
});
