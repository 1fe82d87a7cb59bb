/**
 * Error names survive the functions' minification. Step Functions routes Retry and Catch on an
 * error's `name` (a Lambda error's type), and the deployed bundles are minified without keeping
 * class names, so each error class must name itself with a string literal. Every module of
 * `shared/` that exports a class is bundled with the functions' own esbuild options, imported as a
 * namespace (export names survive minification); the bundle, run by node, answers the `name` of
 * an instance of each exported error class.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionBuildOptions } from '../../../../infra/constructs/bundling.ts';

const PROJECT_ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const EXPORTED_CLASS = /^export (abstract )?class (\w+) extends \w+/gm;
/** Reading a class's name at run time: what a minifier changes. */
const NAME_FROM_CLASS =
  /new\.target\.name|\bconstructor\.name|\b[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*\.name\b/;

interface SourceFile {
  /** Path from the project root, `shared/images/errors.ts`. */
  readonly path: string;
  readonly text: string;
}

async function sourceFiles(folder: string): Promise<SourceFile[]> {
  const entries = await readdir(join(PROJECT_ROOT, folder), { recursive: true });
  const paths = entries
    .filter((entry) => entry.endsWith('.ts') && !entry.endsWith('.d.ts'))
    .map((entry) => join(folder, entry))
    .sort();
  return Promise.all(
    paths.map(async (path) => ({ path, text: await readFile(join(PROJECT_ROOT, path), 'utf8') })),
  );
}

/**
 * The entry point: imports each module as a namespace and prints, for every exported class that
 * extends Error, `"<module> <export>"` → the `name` of an instance. `('message', {})` suits every
 * constructor's shape (a message or a code first, options second); one that throws is reported.
 */
function entrySource(modules: readonly string[]): string {
  const imports = modules.map(
    (path, index) => `import * as m${index} from ${JSON.stringify(join(PROJECT_ROOT, path))};`,
  );
  const table = modules.map((path, index) => `[${JSON.stringify(path)}, m${index}]`);
  return `${imports.join('\n')}
const names = {};
for (const [path, exports] of [${table.join(', ')}]) {
  for (const [exportName, value] of Object.entries(exports)) {
    if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
    let name;
    try {
      name = new value('message', {}).name;
    } catch (error) {
      name = 'constructor threw: ' + error;
    }
    names[path + ' ' + exportName] = name;
  }
}
console.log(JSON.stringify(names));
`;
}

let workDir: string;
/** Error classes the bundle found, by `"<module> <export>"`, with their instances' `name`. */
let bundledNames: Record<string, string>;
/** Exported classes declared abstract: they leave naming to their subclasses. */
let abstractClasses: Set<string>;

beforeAll(async () => {
  const files = await sourceFiles('shared');
  const declared = files.map((file) => ({
    path: file.path,
    classes: [...file.text.matchAll(EXPORTED_CLASS)],
  }));
  const modules = declared.filter((file) => file.classes.length > 0).map((file) => file.path);
  abstractClasses = new Set(
    declared.flatMap((file) =>
      file.classes
        .filter(([, isAbstract]) => isAbstract)
        .map(([, , name]) => `${file.path} ${name}`),
    ),
  );

  workDir = await mkdtemp(join(tmpdir(), 'spark-t2i-error-names-'));
  const entry = join(workDir, 'entry.ts');
  const outfile = join(workDir, 'index.mjs');
  await writeFile(entry, entrySource(modules));
  await build(functionBuildOptions({ entry, outfile }));
  const { stdout } = await promisify(execFile)(process.execPath, [outfile], {
    cwd: workDir,
    env: { PATH: process.env.PATH },
  });
  bundledNames = JSON.parse(stdout) as Record<string, string>;
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('error names in a minified bundle', () => {
  it('are found for the error classes of every module of shared/ that exports one', () => {
    expect(Object.keys(bundledNames)).toEqual(
      expect.arrayContaining([
        'shared/images/errors.ts ImageDownloadError',
        'shared/spark/errors.ts SparkThrottledError',
        'shared/generation/errors.ts GenerationAlreadyFinishedError',
        'shared/api/errors.ts BadRequestError',
        'shared/contracts/setting.ts ConfigurationError',
        'shared/generation/slots.ts TokenExpiredError',
      ]),
    );
  });

  it("are each concrete error class's own name, as written in the source", () => {
    const concrete = Object.keys(bundledNames).filter((key) => !abstractClasses.has(key));
    const names = Object.fromEntries(concrete.map((key) => [key, bundledNames[key]]));

    expect(names).toEqual(
      Object.fromEntries(concrete.map((key) => [key, key.slice(key.indexOf(' ') + 1)])),
    );
  });
});

describe('error names in the source', () => {
  it.each(['shared', 'functions'])(
    'are never read from a class at run time in %s/ (new.target.name, constructor.name, X.name)',
    async (folder) => {
      const readers = (await sourceFiles(folder))
        .flatMap((file) =>
          file.text.split('\n').map((line, index) => `${file.path}:${index + 1}: ${line.trim()}`),
        )
        .filter((line) => NAME_FROM_CLASS.test(line.slice(line.indexOf(': ') + 2)));

      expect(readers).toEqual([]);
    },
  );
});
