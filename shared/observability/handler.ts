/**
 * The middy chain every Lambda entry point starts with: Powertools logger context and metrics
 * flushing. Handlers add their own middlewares (HTTP parsing, errors) after it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics } from './powertools.ts';

export function lambdaHandler<Event, Result>(
  handler: (event: Event, context: Context) => Promise<Result>,
) {
  return middy<Event, Result>(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}
