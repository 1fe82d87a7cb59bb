/**
 * The arithmetic that turns a benchmark run's measurements into figures and target checks, on
 * made-up measurements. (The benchmark itself is `npm run bench`, not a test.)
 */
import { describe, expect, it } from 'vitest';
import { orchestrationCost, PRICES } from '../../../bench/prices.ts';
import { findings as batchFindings } from '../../../bench/scenarios/batch.ts';
import { externalImports, lazyExternalImports } from '../../../bench/scenarios/bundles.ts';
import { summarize, targetsOf } from '../../../bench/scenarios/overhead.ts';
import type { PipelineRunOutput } from '../../../bench/scenarios/pipeline-child.ts';

/** A run's measurements, as the pipeline child reports them. */
function run(
  variant: string,
  generations: Array<{ overheadS: number; transitions: number }>,
  extra: Partial<PipelineRunOutput> = {},
): PipelineRunOutput {
  return {
    variant,
    startedAtMs: 0,
    endedAtMs: 60_000,
    generations: generations.map((g, index) => ({
      id: `g${index}`,
      status: 'completed',
      submittedAtMs: index * 1000,
      completedAtMs: index * 1000 + 10_000 + g.overheadS * 1000,
      simCreatedAtMs: index * 1000 + 50,
      simCompleteAtMs: index * 1000 + 10_000,
      transitions: g.transitions,
      retries: {},
      polls: (g.transitions - 5) / 3,
      recordBytes: 700,
    })),
    functions: [
      {
        entryPoint: 'poll-task',
        memoryMb: 256,
        invocations: generations.length,
        failed: 0,
        gbSeconds: generations.length * 0.5,
        durationMsTotal: generations.length * 2000,
      },
    ],
    counts: {
      requests: {
        dynamodb: { UpdateItem: 2 * generations.length, GetItem: generations.length },
        s3: { PUT: generations.length },
        simulator: { poll: 4 * generations.length },
      },
      statuses: {},
    },
    simulator: { tasksCreated: generations.length, maxInFlight: 5 },
    events: generations.length,
    ...extra,
  };
}

describe('the overhead figures', () => {
  const ours = summarize(
    run('ours', [
      { overheadS: 0.2, transitions: 8 },
      { overheadS: 0.4, transitions: 8 },
      { overheadS: 0.3, transitions: 8 },
      { overheadS: 1.9, transitions: 11 },
    ]),
  );
  const baseline = summarize(
    run('baseline', [
      { overheadS: 2, transitions: 14 },
      { overheadS: 1, transitions: 11 },
      { overheadS: 4, transitions: 14 },
      { overheadS: 3, transitions: 14 },
    ]),
  );

  it('take the overhead from the record and the simulator’s completion time', () => {
    expect(ours.overheadP50).toBeCloseTo(0.3);
    expect(ours.overheadP95).toBeCloseTo(1.9);
    expect(ours.transitionsMax).toBe(11);
    expect(ours.providerPollsPerGeneration).toBe(4);
  });

  it('price each generation’s measured usage', () => {
    // 8.75 transitions, 1 invocation and 0.5 GB-s, 2 writes, 1 read, 1 PUT, 1 event.
    expect(ours.cost.stepFunctions).toBeCloseTo(8.75 * PRICES.stepFunctionsStandardTransition.usd);
    expect(ours.cost.lambdaDuration).toBeCloseTo(0.5 * PRICES.lambdaArmGbSecond.usd);
    expect(ours.cost.total).toBeCloseTo(
      orchestrationCost({
        transitions: 8.75,
        lambdaRequests: 1,
        lambdaGbSeconds: 0.5,
        dynamodbWriteUnits: 2,
        dynamodbReadUnits: 1,
        s3PutRequests: 1,
        s3GetRequests: 0,
        events: 1,
      }).total,
    );
  });

  it('are checked against the targets as ratios to the baseline of the same run', () => {
    const targets = Object.fromEntries(targetsOf(ours, baseline).map((t) => [t.name, t]));
    expect(targets['overhead p50 (ours)']?.met).toBe(true);
    expect(targets['overhead p50, ours / baseline']?.value).toBeCloseTo(0.3 / 2);
    expect(targets['state transitions per successful generation (ours, max)']?.met).toBe(true);
  });
});

describe('the batch figures', () => {
  it('report 429s and a makespan over the floor as missed, naming the missing cap', () => {
    const output = run(
      'batch',
      Array.from({ length: 10 }, () => ({ overheadS: 0, transitions: 8 })),
      {
        counts: { requests: { simulator: { create: 14 } }, statuses: { simulator: { '429': 4 } } },
      },
    );
    const { targets } = batchFindings(output, 10);
    expect(targets.map((t) => t.met)).toEqual([false, false]);
    expect(targets[1]).toMatchObject({ value: 4, reason: expect.stringContaining('429') });
  });
});

describe('the bundle figures', () => {
  it('count the SDK packages a bundle imports statically as its cold start, and dynamic ones apart', () => {
    const source =
      'import{a as b}from"@aws-sdk/client-dynamodb";import"@aws-sdk/lib-dynamodb";' +
      'async function f(){let{S3Client:c}=await import("@aws-sdk/client-s3");' +
      'await import("@aws-sdk/client-dynamodb");return c}';

    expect(externalImports(source)).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb']);
    expect(lazyExternalImports(source)).toEqual(['@aws-sdk/client-s3']);
  });

  it('do not count an import written inside a string, as an SDK error message writes one', () => {
    const source =
      'import*as h from"@smithy/node-http-handler";' +
      'const m=`call [require("@aws-sdk/signature-v4-crt");] or [import "@aws-sdk/signature-v4-crt";]`;' +
      'async function f(){return import("@smithy/credential-provider-imds")}';

    expect(externalImports(source)).toEqual(['@smithy/node-http-handler']);
    expect(lazyExternalImports(source)).toEqual(['@smithy/credential-provider-imds']);
  });
});
