/** Workflow step CreateTask: creates the Spark task (once) and records its id. */
import * as z from 'zod';
import { dynamoDb } from '../../shared/aws/clients.ts';
import { EnvNames, readEnv } from '../../shared/config/env.ts';
import { pollingPolicyFromEnv } from '../../shared/config/pipeline-env.ts';
import { createTaskStep } from '../../shared/generation/steps.ts';
import { GenerationStore } from '../../shared/generation/store.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { sparkClientFromEnv } from '../../shared/spark/from-env.ts';

const env = readEnv({ [EnvNames.generationsTable]: z.string().min(1) });
const deps = {
  store: new GenerationStore(dynamoDb(), env[EnvNames.generationsTable]),
  spark: sparkClientFromEnv(),
  policy: pollingPolicyFromEnv(),
};

export const handler = lambdaHandler(async (event: { id: string }) => createTaskStep(event, deps));
