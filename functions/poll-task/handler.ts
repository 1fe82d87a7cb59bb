/**
 * Workflow step PollTask: polls the Spark task once and says when to poll next. The poll that
 * sees the task end gives back its provider slot there and then (the copy needs none), which
 * saves the workflow a state per generation.
 */
import { dynamoDb, stepFunctions } from '../../shared/aws/clients.ts';
import { pollingPolicyFromEnv, providerSlotsFromEnv } from '../../shared/config/pipeline-env.ts';
import { releaseSlot, stepFunctionsWaker } from '../../shared/generation/slots.ts';
import { type PollTaskInput, pollTaskStep } from '../../shared/generation/steps.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { sparkClientFromEnv } from '../../shared/spark/from-env.ts';

const deps = { spark: sparkClientFromEnv(), policy: pollingPolicyFromEnv() };
const slotDeps = {
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(stepFunctions()),
};

export const handler = lambdaHandler(async (event: PollTaskInput) => {
  const task = await pollTaskStep(event, deps);
  if (task.state !== 'pending') await releaseSlot(event.id, slotDeps);
  return task;
});
