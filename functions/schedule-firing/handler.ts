/**
 * Trigger: a schedule's firing (EventBridge Scheduler) starts its generation, named from the
 * firing's scheduled time, so every delivery and retry of one firing starts one generation.
 */
import { stepFunctions } from '../../shared/aws/step-functions.ts';
import { EnvNames, readEnv } from '../../shared/config/env.ts';
import { startScheduleFiring } from '../../shared/generation/schedule-firing.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({ [EnvNames.stateMachineArn]: z.string().check(z.minLength(1)) });
const deps = { sfn: stepFunctions(), stateMachineArn: env[EnvNames.stateMachineArn] };

export const handler = lambdaHandler(async (event: unknown) => startScheduleFiring(event, deps));
