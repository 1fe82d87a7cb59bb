/**
 * A benchmark child started as Lambda starts a function (`runChild`'s `asLambda`): through the
 * function's exec wrapper, node with the runtime bootstrap's flags for its memory size, the
 * function's NODE_ARGUMENTS after them, the script last and its files named in the environment.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChild } from '../../../bench/lib/child.ts';
import {
  NODE_ARGUMENTS_WRAPPER_FILE,
  NODE_ARGUMENTS_WRAPPER_SCRIPT,
} from '../../../infra/constructs/node-arguments.ts';
import { bootstrapNodeFlags } from '../../../infra/lambda-bootstrap.ts';

const CHILD_MODULE = pathToFileURL(
  join(import.meta.dirname, '..', '..', '..', 'bench', 'lib', 'child.ts'),
);

let dir: string;
let wrapper: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-bench-child-'));
  wrapper = join(dir, NODE_ARGUMENTS_WRAPPER_FILE);
  await writeFile(wrapper, NODE_ARGUMENTS_WRAPPER_SCRIPT);
  await chmod(wrapper, 0o755);
  script = join(dir, 'child.mjs');
  await writeFile(
    script,
    `import { childMain } from ${JSON.stringify(CHILD_MODULE.href)};
await childMain(async (input) => ({ input, execArgv: process.execArgv, argv: process.argv.slice(1) }));
`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a benchmark child started as Lambda starts a function', () => {
  it("runs node with the bootstrap's flags for the memory size, then the function's NODE_ARGUMENTS through its wrapper, the script last", async () => {
    const output = await runChild(
      script,
      { copy: 'large' },
      {
        timeoutMs: 30_000,
        env: { NODE_ARGUMENTS: '--max-semi-space-size=1 --initial-old-space-size=64' },
        asLambda: { memorySizeMb: 512, wrapper },
      },
    );
    expect(output).toEqual({
      input: { copy: 'large' },
      execArgv: [
        ...bootstrapNodeFlags(512),
        '--max-semi-space-size=1',
        '--initial-old-space-size=64',
      ],
      argv: [script],
    });
  });

  it('refuses a wrapper that is not executable, as the bootstrap does (126)', async () => {
    await chmod(wrapper, 0o644);
    try {
      await expect(
        runChild(script, {}, { timeoutMs: 30_000, asLambda: { memorySizeMb: 512, wrapper } }),
      ).rejects.toMatchObject({ name: 'BootstrapRefusedError', exitCode: 126 });
    } finally {
      await chmod(wrapper, 0o755);
    }
  });
});
