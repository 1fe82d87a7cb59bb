/** Workflow step ClassifyFailure: turns a caught error into the record's code and message. */
import { type CaughtError, classifyFailure } from '#shared/generation/failures.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

export const handler = lambdaHandler(async (event: CaughtError) => classifyFailure(event));
