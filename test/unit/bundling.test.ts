/**
 * The bundler's import substitutions (PipelineFunction's `--alias` arguments), applied the way
 * `cdk synth` applies them, to small entry points.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_ALIASES } from '../../infra/constructs/bundling.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

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
    ["import http from 'node:http'; export const a = http.request;", 'node:http'],
    ["import { STATUS_CODES } from 'node:http'; export const a = STATUS_CODES;", 'node:http'],
    ["import * as http from 'http'; export const a = http.Agent;", 'node:http'],
    ["import { ReadStream } from 'node:fs'; export const a = ReadStream;", 'node:fs'],
    ["import { readFile } from 'node:fs/promises'; export const a = readFile;", 'node:fs/promises'],
    ["import process from 'node:process'; export const a = process.env;", 'node:process'],
  ])(
    'read a builtin with lazy getters through CommonJS, not as an ESM import: %s',
    async (source, builtin) => {
      const output = await bundle(source);

      expect(output).not.toMatch(/from\s*["'](node:)?(http|fs|process)(\/promises)?["']/);
      expect(output).toContain(`process.getBuiltinModule("${builtin}")`);
    },
  );

  it.each(['node:http', 'node:fs', 'node:process'])(
    'give the builtin module itself for %s',
    (builtin) => {
      const substitute = createRequire(import.meta.url)(
        join(PROJECT_ROOT, BUNDLE_ALIASES[builtin] as string),
      ) as unknown;

      expect(substitute).toBe(process.getBuiltinModule(builtin));
    },
  );
});
