/**
 * The local runtime runs every function in one process (local/runtime/lambda.ts): their
 * environments must agree, except for what Node reads only when a process starts.
 */
import { describe, expect, it } from 'vitest';
import { LocalLambda } from '#local/runtime/lambda.ts';
import type { LocalFunction } from '#local/runtime/synthesis.ts';

const fn = (logicalId: string, environment: Record<string, string>): LocalFunction => ({
  logicalId,
  entryPoint: logicalId.toLowerCase(),
  environment,
  timeoutSeconds: 30,
  memorySize: 256,
});

describe('LocalLambda.combinedEnvironment', () => {
  it('merges the functions’ environments and refuses a name they disagree on', () => {
    const agreeing = new LocalLambda({
      A: fn('A', { TABLE: 't', ONLY_A: '1' }),
      B: fn('B', { TABLE: 't' }),
    });
    expect(agreeing.combinedEnvironment()).toEqual({ TABLE: 't', ONLY_A: '1' });
    const disagreeing = new LocalLambda({ A: fn('A', { TABLE: 't' }), B: fn('B', { TABLE: 'u' }) });
    expect(() => disagreeing.combinedEnvironment()).toThrow(/disagree on TABLE/);
  });

  it('leaves out what starts a process (NODE_OPTIONS, the exec wrapper), per function on Lambda', () => {
    const lambda = new LocalLambda({
      Copy: fn('Copy', {
        NODE_OPTIONS: '--enable-source-maps --stack-trace-limit=50',
        AWS_LAMBDA_EXEC_WRAPPER: '/var/task/node-arguments.sh',
        NODE_ARGUMENTS: '--max-semi-space-size=1 --initial-old-space-size=64',
      }),
      Other: fn('Other', { NODE_OPTIONS: '--enable-source-maps', TABLE: 't' }),
    });
    expect(lambda.combinedEnvironment()).toEqual({ TABLE: 't' });
  });
});
