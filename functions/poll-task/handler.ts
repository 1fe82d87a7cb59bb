/**
 * Workflow step PollTask: polls the Spark task (re-checking briefly) and says when to poll next.
 * The poll that sees the task end gives back its provider slot there and then (the copy needs
 * none), which saves the workflow a state per generation.
 */
import { dynamoDb } from '../../shared/aws/dynamodb.ts';
import { lazyStepFunctions } from '../../shared/aws/lazy.ts';
import { EnvNames, envInt, readEnv } from '../../shared/config/env.ts';
import { pollingPolicyFromEnv } from '../../shared/config/pipeline-env.ts';
import { providerSlotsFromEnv } from '../../shared/config/slots-env.ts';
import { PollingStatsStore } from '../../shared/generation/polling-stats.ts';
import { releaseSlot, stepFunctionsWaker } from '../../shared/generation/slots.ts';
import { type PollTaskInput, pollTaskStep } from '../../shared/generation/steps.ts';
import { GenerationStore } from '../../shared/generation/store.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { logger } from '../../shared/observability/powertools.ts';
import { sparkClientFromEnv } from '../../shared/spark/from-env.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({
  [EnvNames.generationsTable]: z.string().check(z.minLength(1)),
  [EnvNames.sparkRequestTimeoutMs]: envInt(10_000),
});
const policy = pollingPolicyFromEnv();
const store = new GenerationStore(dynamoDb(), env[EnvNames.generationsTable]);
const deps = {
  spark: sparkClientFromEnv(),
  policy,
  stats: new PollingStatsStore(dynamoDb(), env[EnvNames.generationsTable], policy.learnedSamples),
  // A re-check starts only while one more request (and the answer) still fits before the deadline.
  reserveMs: env[EnvNames.sparkRequestTimeoutMs] + 1000,
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
  if (task.state !== 'pending') await releaseSlot(event.id, slotDeps);
  return task;
});
