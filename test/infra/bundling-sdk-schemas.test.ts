/**
 * The bundler's rewrite of the SDK clients' schema modules (`literalSchemaKeys`): the schemas it
 * yields are the SDK's own, value for value, and they shake to the operations a function calls.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import {
  functionBuildOptions,
  literalSchemaKeys,
  sdkSchemaLiteralKeys,
} from '../../infra/constructs/bundling.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
const packageJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
/** Every SDK service client the functions may bundle. */
const CLIENTS = Object.keys(packageJson.dependencies).filter((name) =>
  name.startsWith('@aws-sdk/client-'),
);
const schemaModule = (client: string) =>
  join(PROJECT_ROOT, 'node_modules', client, 'dist-es', 'schemas', 'schemas_0.js');

describe('literalSchemaKeys', () => {
  it("writes a computed key naming one of the module's string constants as that string", () => {
    const source = ['const _hH = "httpHeader";', 'export var A$ = [0, { [_hH]: "x-amz-acl" }];'];

    expect(literalSchemaKeys(source.join('\n'))).toBe(
      ['const _hH = "httpHeader";', 'export var A$ = [0, { "httpHeader": "x-amz-acl" }];'].join(
        '\n',
      ),
    );
  });

  it('keeps escapes in the constant as they are', () => {
    expect(literalSchemaKeys('const _q = "a\\"b";\nvar o = { [_q]: 1 };')).toBe(
      'const _q = "a\\"b";\nvar o = { "a\\"b": 1 };',
    );
  });

  it('leaves a key that names no string constant, and __proto__, as computed keys', () => {
    const source = [
      'const _n = 5;',
      'const _p = "__proto__";',
      'let _l = "late";',
      'var o = { [_n]: 1, [_p]: 2, [_l]: 3, [_missing]: 4 };',
    ].join('\n');

    expect(literalSchemaKeys(source)).toBe(source);
  });
});

describe("the SDK clients' schema modules, as bundled", () => {
  const directory = mkdtempSync(join(tmpdir(), 'spark-t2i-schemas-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  async function bundleSchemas(
    client: string,
    plugins: Plugin[],
  ): Promise<Record<string, unknown>> {
    const result = await build({
      stdin: {
        contents: `export * from ${JSON.stringify(schemaModule(client))};`,
        resolveDir: PROJECT_ROOT,
        loader: 'js',
      },
      absWorkingDir: PROJECT_ROOT,
      bundle: true,
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      plugins,
      write: false,
      logLevel: 'silent',
    });
    const file = join(
      directory,
      `${client.replace(/\W/g, '_')}-${plugins.length > 0 ? 'literal' : 'sdk'}.mjs`,
    );
    writeFileSync(file, result.outputFiles[0]?.text ?? '');
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }

  it.each(CLIENTS)('%s: the rewrite leaves no computed key of a constant', (client) => {
    expect(literalSchemaKeys(readFileSync(schemaModule(client), 'utf8'))).not.toMatch(/\[_\w+\]:/);
  });

  it.each(CLIENTS)(
    '%s: every exported schema is the same value with and without the rewrite',
    async (client) => {
      const sdk = await bundleSchemas(client, []);
      const literal = await bundleSchemas(client, [sdkSchemaLiteralKeys]);

      expect(Object.keys(literal).sort()).toEqual(Object.keys(sdk).sort());
      expect(Object.keys(sdk).length).toBeGreaterThan(10);
      for (const name of Object.keys(sdk)) {
        expect(differenceBetween(literal[name], sdk[name], name)).toBeUndefined();
      }
    },
  );

  it('shake to the operations a function calls: the S3 client with GetObject', async () => {
    const schemaBytes = async (plugins: Plugin[]) => {
      const result = await build({
        ...functionBuildOptions({ entry: 'unused', outfile: join(directory, 'shake.mjs') }),
        entryPoints: undefined,
        stdin: {
          contents:
            "import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3'; export const used = [S3Client, GetObjectCommand];",
          resolveDir: PROJECT_ROOT,
          loader: 'js',
        },
        plugins,
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      const output = Object.entries(result.metafile.outputs).find(([file]) =>
        file.endsWith('.mjs'),
      );
      return output?.[1].inputs['node_modules/@aws-sdk/client-s3/dist-es/schemas/schemas_0.js']
        ?.bytesInOutput as number;
    };

    // Every S3 operation's schema is about 66 KB minified; GetObject's and the errors' about 8.
    expect(await schemaBytes([])).toBeGreaterThan(40_000);
    expect(await schemaBytes([sdkSchemaLiteralKeys])).toBeLessThan(16_000);
  });
});

/**
 * Where two schema values differ (a path and the two values), or undefined when they are the
 * same: arrays, objects and maps key by key, thunks (`() => Other$`) by what they return, classes
 * (the error classes each bundle defines) by name.
 */
function differenceBetween(
  actual: unknown,
  expected: unknown,
  path: string,
  seen = new Map<unknown, unknown>(),
): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  if (typeof actual !== typeof expected) return `${path}: ${String(actual)} ≠ ${String(expected)}`;
  if (typeof actual === 'function' && typeof expected === 'function') {
    const isClass = /^class\b/.test(Function.prototype.toString.call(expected));
    if (isClass) return actual.name === expected.name ? undefined : `${path}: class ${actual.name}`;
    return differenceBetween(actual(), expected(), `${path}()`, seen);
  }
  if (typeof actual !== 'object' || actual === null || expected === null) {
    return `${path}: ${String(actual)} ≠ ${String(expected)}`;
  }
  if (seen.get(actual) === expected) return undefined;
  seen.set(actual, expected);
  if (Array.isArray(actual) !== Array.isArray(expected)) return `${path}: array or not`;
  // Each bundle defines its own classes (the error classes, TypeRegistry): alike by name.
  const actualClass = (Object.getPrototypeOf(actual) as { constructor?: { name: string } } | null)
    ?.constructor?.name;
  const expectedClass = (
    Object.getPrototypeOf(expected) as { constructor?: { name: string } } | null
  )?.constructor?.name;
  if (actualClass !== expectedClass) return `${path}: ${actualClass} ≠ ${expectedClass}`;
  if (actual instanceof Map && expected instanceof Map) {
    return differenceBetween([...actual], [...expected], `${path} entries`, seen);
  }
  const actualKeys = Reflect.ownKeys(actual);
  const expectedKeys = Reflect.ownKeys(expected as object);
  if (actualKeys.join('\u0000') !== expectedKeys.join('\u0000')) {
    return `${path}: keys ${actualKeys.map(String).join(',')} ≠ ${expectedKeys.map(String).join(',')}`;
  }
  for (const key of expectedKeys) {
    const difference = differenceBetween(
      (actual as Record<PropertyKey, unknown>)[key],
      (expected as Record<PropertyKey, unknown>)[key],
      `${path}.${String(key)}`,
      seen,
    );
    if (difference !== undefined) return difference;
  }
  return undefined;
}
