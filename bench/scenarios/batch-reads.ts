/**
 * Scenario: reading a batch. A small and a large prompt file, each followed to its end through
 * `GET /batches/{id}`, whose counts must then be exact; that route's latency on the large batch
 * as a ratio to the small one's, timed alternately in the same run (the counts are read from a
 * fixed number of items, whatever the size of the batch).
 */
import { join } from 'node:path';
import { runChild } from '../lib/child.ts';
import { checkTarget, type Figure } from '../lib/results.ts';
import type { Scenario, ScenarioContext, ScenarioFindings } from '../lib/scenario.ts';
import { percentile, ratio, round } from '../lib/stats.ts';
import type { BatchReadsInput, BatchReadsOutput } from './batch-reads-child.ts';

const CHILD = join(import.meta.dirname, 'batch-reads-child.ts');
const SMALL = 100;

export const batchReadsScenario: Scenario = {
  name: 'batch-reads',
  title: 'Reading a batch: GET /batches/{id} at 100 and 10,000 lines',
  targetNames: [
    { name: 'GET /batches/{id} p50, large / small', target: '≤ 1.2' },
    { name: 'lines of the large batch not counted completed', target: '= 0' },
  ],
  async run(context: ScenarioContext): Promise<ScenarioFindings> {
    const large = context.quick ? 1000 : 10_000;
    const input: BatchReadsInput = {
      sizes: [SMALL, large],
      reads: context.quick ? 100 : 300,
      // A fast provider and a wide cap: the scenario is about reading, not generating. Lines
      // start at the default pace (25 a second): faster only piles up waiting executions in the
      // one-machine twin, whose functions then run out of CPU, not of anything AWS would lack.
      config: {
        maxConcurrentTasks: 50,
        polling: { expectedGenerationSeconds: 1 },
      },
      sim: { latencyMs: 200, maxConcurrent: 50 },
      cacheDir: context.cacheDir,
    };
    context.log(`batch-reads: ${SMALL} and ${large} lines, ${input.reads} timed reads each`);
    const output = await runChild<BatchReadsOutput>(CHILD, input, {
      timeoutMs: 70 * 60_000,
      log: context.log,
    });
    return findings(output, input);
  },
};

function findings(output: BatchReadsOutput, input: BatchReadsInput): ScenarioFindings {
  const [small, large] = output.batches;
  if (!small || !large) throw new Error('the run reported fewer than two batches');
  const p = (batch: typeof small, q: number) => round(percentile(batch.readMs, q), 2);
  const readRatio = round(ratio(percentile(large.readMs, 50), percentile(small.readMs, 50)));
  const uncounted = large.lines - (large.counts.completed ?? 0);
  const figures: Figure[] = output.batches.flatMap((batch) => [
    { name: `GET /batches/{id} p50, ${batch.lines} lines`, value: p(batch, 50), unit: 'ms' },
    { name: `GET /batches/{id} p95, ${batch.lines} lines`, value: p(batch, 95), unit: 'ms' },
    {
      name: `upload to end, ${batch.lines} lines`,
      value: round(batch.endedAfterMs / 1000, 1),
      unit: 's',
    },
  ]);
  return {
    parameters: { sizes: input.sizes, reads: input.reads, config: input.config, sim: input.sim },
    figures,
    targets: [
      checkTarget({
        name: 'GET /batches/{id} p50, large / small',
        value: readRatio,
        unit: '',
        comparison: '<=',
        limit: 1.2,
        ifMissed: {
          reason: 'reading a large batch costs more than a small one',
          next: 'profile the read: the head and its counter shards should be all it reads',
        },
      }),
      checkTarget({
        name: 'lines of the large batch not counted completed',
        value: uncounted,
        unit: 'lines',
        comparison: '==',
        limit: 0,
        valid: large.status === 'completed',
        ifMissed: {
          reason: `the large batch ended ${large.status} with counts ${JSON.stringify(large.counts)}`,
          next: 'look for line ends never counted (events lost) or counted twice',
        },
      }),
    ],
    notes: output.batches.map(
      (batch) => `${batch.lines} lines: ${batch.status}, counts ${JSON.stringify(batch.counts)}`,
    ),
  };
}
