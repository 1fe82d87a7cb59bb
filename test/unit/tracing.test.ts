/**
 * The tracer is loaded only in a Lambda sandbox with tracing on: the X-Ray SDK's async hooks
 * track every promise of the process that imports it, which the local runtime (every function
 * in one process) and the CLI should not pay for.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const POWERTOOLS = join(
  import.meta.dirname,
  '..',
  '..',
  'shared',
  'observability',
  'powertools.ts',
);

/** Imports the module in a fresh process; says whether a tracer exists and the X-Ray SDK loaded. */
async function probe(env: Record<string, string>) {
  const script = `
    import { createRequire } from 'node:module';
    const { tracer, traced } = await import(${JSON.stringify(POWERTOOLS)});
    const client = { middlewareStack: { add() {}, use() {} }, config: {}, send() {} };
    const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('aws-xray-sdk-core'));
    console.log(JSON.stringify({ tracer: tracer !== undefined, loaded, same: traced(client) === client }));
  `;
  const base = { ...process.env };
  delete base.AWS_LAMBDA_FUNCTION_NAME;
  delete base.POWERTOOLS_TRACE_ENABLED;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', script],
    { env: { ...base, ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, boolean>;
}

describe('the tracer', () => {
  it('is not loaded outside Lambda', async () => {
    expect(await probe({})).toEqual({ tracer: false, loaded: false, same: true });
  });

  it('is not loaded in Lambda with tracing switched off', async () => {
    expect(
      await probe({ AWS_LAMBDA_FUNCTION_NAME: 'fn', POWERTOOLS_TRACE_ENABLED: 'false' }),
    ).toEqual({ tracer: false, loaded: false, same: true });
  });

  it('traces the clients in Lambda', async () => {
    const answer = await probe({ AWS_LAMBDA_FUNCTION_NAME: 'fn' });
    expect(answer.tracer).toBe(true);
    expect(answer.loaded).toBe(true);
  });
});
