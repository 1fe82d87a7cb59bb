/** Workflow step CreateTask: creates the Spark task (once), records its id, times the first poll. */
import { dynamoDb } from '../../shared/aws/dynamodb.ts';
import { EnvNames, readEnv } from '../../shared/config/env.ts';
import { pollingPolicyFromEnv } from '../../shared/config/pipeline-env.ts';
import { PollingStatsStore } from '../../shared/generation/polling-stats.ts';
import { createTaskStep } from '../../shared/generation/steps.ts';
import { GenerationStore } from '../../shared/generation/store.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { logger } from '../../shared/observability/powertools.ts';
import { sparkClientFromEnv } from '../../shared/spark/from-env.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({ [EnvNames.generationsTable]: z.string().check(z.minLength(1)) });
const policy = pollingPolicyFromEnv();
const deps = {
  store: new GenerationStore(dynamoDb(), env[EnvNames.generationsTable]),
  spark: sparkClientFromEnv(),
  policy,
  stats: new PollingStatsStore(dynamoDb(), env[EnvNames.generationsTable], policy.learnedSamples),
  warn: (message: string, error: unknown) => logger.warn(message, { error }),
};

export const handler = lambdaHandler(async (event: { id: string }) => createTaskStep(event, deps));
