/**
 * Scenario 3: batch makespan. N prompts in one file, provider latency T, provider cap C
 * (the simulator answers 429 beyond C unfinished tasks) and the stack's maxConcurrentTasks = C:
 * the makespan (upload to the last record terminal) as a ratio to the floor N·T/C, and the 429s
 * the simulator answered.
 */
import { join } from 'node:path';
import { runChild } from '../lib/child.ts';
import { checkTarget, type Figure } from '../lib/results.ts';
import type { Scenario, ScenarioContext, ScenarioFindings } from '../lib/scenario.ts';
import { mean, percentile, round } from '../lib/stats.ts';
import type { PipelineRunInput, PipelineRunOutput } from './pipeline-child.ts';

const CHILD = join(import.meta.dirname, 'pipeline-child.ts');
const LATENCY_MS = 2000;
const CAP = 20;
const EXPECTED_S = LATENCY_MS / 1000;

export const batchScenario: Scenario = {
  name: 'batch',
  title: 'Batch makespan (one prompt file, T = 2 s, C = 20)',
  targetNames: [
    { name: 'makespan / (N·T/C)', target: '≤ 1.15' },
    { name: '429 answers seen by the simulator', target: '= 0' },
  ],
  async run(context: ScenarioContext): Promise<ScenarioFindings> {
    const count = context.quick ? 60 : 1000;
    context.log(`batch: ${count} prompts, T = ${LATENCY_MS / 1000} s, C = ${CAP}`);
    const input: PipelineRunInput = {
      variant: 'batch',
      // The stack is told the provider's expected duration, as a deployment for this provider
      // would be (the default, 10 s, is the overhead scenario's provider).
      config: { maxConcurrentTasks: CAP, polling: { expectedGenerationSeconds: EXPECTED_S } },
      sim: { latencyMs: LATENCY_MS, jitterMs: 0, maxConcurrent: CAP, faultSeed: 1 },
      workload: { kind: 'prompt-file', count },
      cacheDir: context.cacheDir,
    };
    const output = await runChild<PipelineRunOutput>(CHILD, input, {
      timeoutMs: 40 * 60_000,
      log: context.log,
    });
    return findings(output, count);
  },
};

export function findings(output: PipelineRunOutput, count: number): ScenarioFindings {
  const generations = output.generations;
  const completed = generations.filter((g) => g.status === 'completed');
  const failures = new Map<string, number>();
  for (const g of generations) {
    if (g.status !== 'completed') {
      const key = `${g.status}${g.errorCode ? ` ${g.errorCode}` : ''}${g.errorMessage ? ` “${g.errorMessage}”` : ''}`;
      failures.set(key, (failures.get(key) ?? 0) + 1);
    }
  }
  const ends = generations.map((g) => g.completedAtMs).filter((t): t is number => t !== null);
  const makespanS = ends.length > 0 ? (Math.max(...ends) - output.startedAtMs) / 1000 : null;
  const floorS = (count * LATENCY_MS) / 1000 / CAP;
  const tooMany = output.counts.statuses.simulator?.['429'] ?? 0;
  const creates = output.counts.requests.simulator?.create ?? 0;
  const retriesByState = new Map<string, number>();
  for (const g of generations) {
    for (const [state, n] of Object.entries(g.retries)) {
      retriesByState.set(state, (retriesByState.get(state) ?? 0) + n);
    }
  }
  const failedInvocations = output.functions
    .filter((use) => use.failed > 0)
    .map((use) => `${use.entryPoint} ${use.failed} of ${use.invocations}`)
    .join(', ');
  const allCompleted = completed.length === count;
  const ratioValue = makespanS === null ? null : round(makespanS / floorS);
  const failureText = [...failures.entries()].map(([key, n]) => `${n} ${key}`).join(', ');
  // With every slot busy, the k-th task to end frees the slot the (k + C)-th create takes: the
  // time between them is how long a slot stood empty.
  const simEnds = generations
    .map((g) => g.simCompleteAtMs)
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b);
  const simCreates = generations
    .map((g) => g.simCreatedAtMs)
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b);
  const gaps = simEnds.slice(0, Math.max(0, simCreates.length - CAP)).map((end, k) => {
    return (simCreates[k + CAP] as number) - end;
  });
  const fifth = Math.max(1, Math.floor(gaps.length / 5));
  const gapByFifth = Array.from({ length: Math.ceil(gaps.length / fifth) }, (_, index) =>
    Math.round(mean(gaps.slice(index * fifth, (index + 1) * fifth)) ?? 0),
  );
  const firstCreateS =
    simCreates.length > 0 ? ((simCreates[0] as number) - output.startedAtMs) / 1000 : null;
  const lastFirstRoundCreateS =
    simCreates.length >= CAP ? ((simCreates[CAP - 1] as number) - output.startedAtMs) / 1000 : null;
  const recordLagMs = completed
    .filter((g) => g.completedAtMs !== null && g.simCompleteAtMs !== null)
    .map((g) => (g.completedAtMs as number) - (g.simCompleteAtMs as number));
  const figures: Figure[] = [
    { name: 'prompts accepted', value: output.promptFile?.accepted ?? null, unit: `of ${count}` },
    { name: 'generations completed', value: completed.length, unit: `of ${count}` },
    {
      name: 'generations not completed',
      value: count - completed.length,
      unit: '',
      ...(failureText && { note: failureText }),
    },
    { name: 'makespan (upload to the last record terminal)', value: round(makespanS), unit: 's' },
    { name: 'floor N·T/C', value: floorS, unit: 's' },
    { name: 'makespan / floor', value: ratioValue, unit: '' },
    {
      name: 'first task created, after the upload',
      value: round(firstCreateS),
      unit: 's',
      note: `the ${CAP}th at ${round(lastFirstRoundCreateS)} s`,
    },
    {
      name: 'slot empty between a task’s end and the next create, mean',
      value: round(mean(gaps), 0),
      unit: 'ms',
      note: `p50 ${round(percentile(gaps, 50), 0)} ms, p95 ${round(percentile(gaps, 95), 0)} ms; mean by fifth of the run: ${gapByFifth.join(', ')} ms`,
    },
    {
      name: 'record completed after the provider finished, p50',
      value: round(percentile(recordLagMs, 50), 0),
      unit: 'ms',
    },
    { name: 'create requests received by the simulator', value: creates, unit: '' },
    { name: '429 answers from the simulator', value: tooMany, unit: '' },
    {
      name: 'retries, all states and generations',
      value: [...retriesByState.values()].reduce((total, n) => total + n, 0),
      unit: '',
      note: [...retriesByState.entries()].map(([state, n]) => `${state} ${n}`).join(', '),
    },
    {
      name: 'failed workflow Lambda invocations',
      value: output.functions.reduce((total, use) => total + use.failed, 0),
      unit: '',
      ...(failedInvocations && { note: failedInvocations }),
    },
    { name: 'tasks created', value: output.simulator.tasksCreated, unit: '' },
    {
      name: 'most tasks in flight at once',
      value: output.simulator.maxInFlight,
      unit: `cap ${CAP}`,
    },
    {
      name: 'state transitions per completed generation, mean',
      value: round(mean(completed.map((g) => g.transitions))),
      unit: '',
    },
  ];
  const capMissing =
    tooMany > 0
      ? `The provider refused ${tooMany} of ${creates} creates with 429 (most in flight at once: ${output.simulator.maxInFlight}): without a provider-wide cap every prompt creates its task at once, and the throttled ones back off (2 s × 2, 5 attempts)${allCompleted ? '' : ` until ${count - completed.length} failed (${failureText})`}.`
      : '';
  return {
    parameters: {
      prompts: count,
      simulatorLatency: `${LATENCY_MS / 1000} s`,
      simulatorMaxConcurrent: CAP,
      maxConcurrentTasks: CAP,
      expectedGenerationSeconds: EXPECTED_S,
      source: 'one .txt prompt file uploaded to prompts/ (the S3 trigger)',
      timeScale: 1,
    },
    figures,
    targets: [
      checkTarget({
        name: 'makespan / (N·T/C)',
        value: ratioValue,
        unit: '',
        comparison: '<=',
        limit: 1.15,
        valid: allCompleted,
        ifMissed: {
          reason:
            capMissing ||
            (allCompleted
              ? `The makespan was ${round(makespanS)} s against a floor of ${floorS} s. The first task was created ${round(firstCreateS)} s after the upload (the ${CAP}th at ${round(lastFirstRoundCreateS)} s); afterwards a slot stood empty for ${round(mean(gaps), 0)} ms on average between a task's end and the next create (p50 ${round(percentile(gaps, 50), 0)} ms), by fifth of the run ${gapByFifth.join(', ')} ms: the gaps are longest while the prompt file's remaining executions start and queue, which on the local runtime share one process and event loop with the servers and the running generations.`
              : `${count - completed.length} generations did not complete (${failureText}).`),
          next: capMissing
            ? 'Hold generations in a provider-wide concurrency stage (maxConcurrentTasks) before CreateTask, releasing a slot when the task ends, so creates wait for a free slot instead of being refused.'
            : 'Start the executions of a large prompt file at the pace slots free up (a started execution only queues for a slot), or give the local runtime more than one process; then measure the remaining per-slot gap (detection by the re-checks, the hand-over, CreateTask).',
        },
      }),
      checkTarget({
        name: '429 answers seen by the simulator',
        value: tooMany,
        unit: '',
        comparison: '==',
        limit: 0,
        ifMissed: {
          reason: capMissing || `${tooMany} creates or polls were refused with 429.`,
          next: 'A provider-wide concurrency cap below the provider limit, shared by all triggers.',
        },
      }),
    ],
    notes: [
      'Makespan runs from the start of the prompt file upload to the latest completedAt of its generations’ records (failed ones included: a record is terminal either way).',
      '429s are counted from the simulator’s answers (http diagnostics channel), creates and polls alike.',
      `The stack is configured with the provider's expected duration (polling.expectedGenerationSeconds = ${EXPECTED_S}), as a deployment for this provider would be; the default (10 s) belongs to the overhead scenario's provider. With the default, the first ${CAP} generations wait 8 s before their first poll, and the learned timing comes down by a fifth per round of late first polls (quick run, 60 prompts: 3.75 × the floor).`,
      'Slot gaps pair the k-th task end with the (k + C)-th create, both by the simulator’s clock: while every slot is busy, that create took the slot that end freed.',
    ],
  };
}
