/**
 * The bundler's import substitutions (`BUNDLE_ALIASES`, esbuild's `alias`), applied the way
 * `cdk synth` applies them, to small entry points.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLE_ALIASES, functionBuildOptions } from '../../infra/constructs/bundling.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

async function bundle(source: string): Promise<string> {
  return (await bundleWithMetafile(source)).text;
}

async function bundleWithMetafile(source: string): Promise<{ text: string; metafile: Metafile }> {
  const result = await build({
    stdin: { contents: source, resolveDir: PROJECT_ROOT, loader: 'ts' },
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    alias: { ...BUNDLE_ALIASES },
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { text: result.outputFiles[0]?.text ?? '', metafile: result.metafile };
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

describe('zod in the function bundles', () => {
  const source = `
    import { readEnv } from './shared/config/env.ts';
    import * as z from './shared/zod.ts';
    try {
      readEnv({ TABLE: z.string().check(z.minLength(1)) }, {});
    } catch (error) {
      console.log(error.message);
    }`;

  it('is zod/mini with its English locale only: no classic API, no other locale', async () => {
    const { metafile } = await bundleWithMetafile(source);
    const [output] = Object.values(metafile.outputs);
    const zod = Object.entries(output?.inputs ?? {})
      .filter(([path, input]) => path.includes('node_modules/zod/') && input.bytesInOutput > 0)
      .map(([path]) => path);

    expect(zod.some((path) => path.startsWith('node_modules/zod/v4/mini/'))).toBe(true);
    expect(zod.filter((path) => /\/v4\/(classic|locales)\//.test(path))).toEqual([
      'node_modules/zod/v4/locales/en.js',
    ]);
  });

  it("gives zod's messages in English, as the classic API does", async () => {
    // In a process of its own: zod keeps its configuration on globalThis, which other test
    // files' classic schemas set to English.
    const { text } = await bundleWithMetafile(source);
    const run = spawnSync(process.execPath, ['--input-type=module', '-'], {
      input: text,
      encoding: 'utf8',
    });

    expect(run.stdout.trim()).toBe(
      'Invalid function configuration: TABLE: Invalid input: expected string, received undefined',
    );
  });
});

describe("a route's bundle builds only its own schemas at import", () => {
  // A module's top level runs whatever of it a bundle keeps, and esbuild keeps every schema a
  // reached module builds with a method call (`.check`) or `withMeta`, used or not: these
  // modules build schemas the routes below never use (docs/decisions.md D36).
  async function modulesOf(entryPoint: string): Promise<string[]> {
    const result = await build({
      ...functionBuildOptions({
        entry: `functions/${entryPoint}/handler.ts`,
        outfile: join(PROJECT_ROOT, 'cdk.out', 'bundling-test', entryPoint, 'index.mjs'),
      }),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const output = Object.values(result.metafile.outputs).find((file) => file.entryPoint);
    return Object.entries(output?.inputs ?? {})
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path);
  }
  const bodySchemas = ['shared/api/schemas.ts', 'shared/request/schema.ts'];

  it('the authorizer: no body schema, no record repository', async () => {
    const modules = await modulesOf('authorizer');

    expect(modules).toContain('shared/api/keys.ts');
    for (const path of [
      ...bodySchemas,
      'shared/generation/repository.ts',
      'shared/api/config.ts',
    ]) {
      expect(modules).not.toContain(path);
    }
  });

  it.each(['cancel-generation', 'get-generation', 'list-generations'])(
    '%s: no body schema',
    async (entryPoint) => {
      const modules = await modulesOf(entryPoint);

      expect(modules).toContain('shared/generation/repository.ts');
      for (const path of bodySchemas) expect(modules).not.toContain(path);
    },
  );
});

describe('the console function bundle', () => {
  it('carries the page’s files, built when it is bundled, and no bundler', async () => {
    const result = await build({
      ...functionBuildOptions({
        entry: join(PROJECT_ROOT, 'functions', 'console', 'handler.ts'),
        outfile: join(PROJECT_ROOT, 'cdk.out', 'console-test', 'index.mjs'),
      }),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const text = result.outputFiles.find((file) => file.path.endsWith('.mjs'))?.text ?? '';
    const inputs = Object.keys(result.metafile?.inputs ?? {});

    // Booleans: a failure would print a bundle of 100 KB.
    expect(/"app\.js":\{contentType:"text\/javascript; charset=utf-8",body:/.test(text)).toBe(true);
    expect(/"app\.css":\{contentType:"text\/css; charset=utf-8",body:/.test(text)).toBe(true);
    expect(inputs.some((input) => input.includes('node_modules/esbuild'))).toBe(false);
    expect(inputs).not.toContain('console/build.ts');
  }, 60_000);
});
