/** Workflow step PollTask: polls the Spark task once and says when to poll next. */
import { pollingPolicyFromEnv } from '../../shared/config/pipeline-env.ts';
import { type PollTaskInput, pollTaskStep } from '../../shared/generation/steps.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { sparkClientFromEnv } from '../../shared/spark/from-env.ts';

const deps = { spark: sparkClientFromEnv(), policy: pollingPolicyFromEnv() };

export const handler = lambdaHandler(async (event: PollTaskInput) => pollTaskStep(event, deps));
