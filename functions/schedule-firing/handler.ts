/**
 * Trigger: a schedule's firing (EventBridge Scheduler) starts its generation, named from the
 * firing's scheduled time, so every delivery and retry of one firing starts one generation.
 */
import { stepFunctions } from '#shared/aws/step-functions.ts';
import { ScheduleFiringSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { startScheduleFiring } from '#shared/generation/schedule-firing.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const { stateMachineArn } = readSettings(ScheduleFiringSettings);
const deps = { sfn: stepFunctions(), stateMachineArn };

export const handler = lambdaHandler(async (event: unknown) => startScheduleFiring(event, deps));
