/**
 * Workflow step ReleaseSlot (on the failure path): gives back the generation's provider slot, if
 * it holds one, and wakes the executions next in line.
 */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyStepFunctions } from '#shared/aws/lazy.ts';
import { providerSlotsFromEnv } from '#shared/config/slots-env.ts';
import { releaseSlot, stepFunctionsWaker } from '#shared/generation/slots.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const deps = {
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(lazyStepFunctions),
};

export const handler = lambdaHandler(async (event: { id: string; queuedAt?: string }) =>
  releaseSlot(event.id, deps, event.queuedAt),
);
