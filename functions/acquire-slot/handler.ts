/**
 * Workflow step AcquireSlot (a `waitForTaskToken` task): takes a provider slot for the generation
 * and wakes its execution at once, or queues the execution's token until a slot is freed.
 */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyStepFunctions } from '#shared/aws/lazy.ts';
import { providerSlotsFromEnv } from '#shared/config/slots-env.ts';
import type { SlotWaiter } from '#shared/generation/slot-store.ts';
import { acquireSlotStep, stepFunctionsWaker } from '#shared/generation/slots.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const deps = {
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(lazyStepFunctions),
};

export const handler = lambdaHandler(async (event: SlotWaiter) => acquireSlotStep(event, deps));
