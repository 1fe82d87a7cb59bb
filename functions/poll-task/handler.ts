/**
 * Workflow step PollTask: polls the Spark task (re-checking briefly) and says when to poll next.
 * The poll that sees the task end gives back its provider slot there and then (the copy needs
 * none), which saves the workflow a state per generation.
 */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyStepFunctions } from '#shared/aws/lazy.ts';
import { pollingPolicyFromEnv } from '#shared/config/pipeline-env.ts';
import { providerSlotsFromEnv } from '#shared/config/slots-env.ts';
import { RecordSettings, Resources, SparkSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { PollingStatsStore } from '#shared/generation/polling-stats.ts';
import { releaseSlot, stepFunctionsWaker } from '#shared/generation/slots.ts';
import { type PollTaskInput, pollTaskStep } from '#shared/generation/steps.ts';
import { GenerationStore } from '#shared/generation/store.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { logger } from '#shared/observability/powertools.ts';
import { sparkClientFromEnv } from '#shared/spark/from-env.ts';

const env = readSettings({
  generationsTable: Resources.generationsTable,
  requestTimeoutMs: SparkSettings.requestTimeoutMs,
  retentionDays: RecordSettings.retentionDays,
});
const policy = pollingPolicyFromEnv();
const store = new GenerationStore(dynamoDb(), env.generationsTable);
const deps = {
  spark: sparkClientFromEnv(),
  policy,
  stats: new PollingStatsStore(dynamoDb(), env.generationsTable, policy.learnedSamples),
  // A re-check starts only while one more request (and the answer) still fits before the deadline.
  reserveMs: env.requestTimeoutMs + 1000,
  retentionDays: env.retentionDays,
  recordPolls: (id: string, polls: number, now: Date) => store.recordPolls(id, polls, now),
  warn: (message: string, error: unknown) => logger.warn(message, { error }),
};

const slotDeps = {
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(lazyStepFunctions),
};

export const handler = lambdaHandler(async (event: PollTaskInput, context) => {
  const task = await pollTaskStep(event, {
    ...deps,
    clock: {
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      remainingMs: () => context.getRemainingTimeInMillis(),
    },
  });
  if (task.state === 'completed' || task.state === 'failed') await releaseSlot(event.id, slotDeps);
  return task;
});
