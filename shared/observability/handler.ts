/**
 * The middy chain every Lambda entry point starts with: Powertools logger context, tracing and
 * metrics flushing. Handlers add their own middlewares (HTTP parsing, errors) after it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './powertools.ts';

export function lambdaHandler<Event, Result>(
  handler: (event: Event, context: Context) => Promise<Result>,
) {
  return middy<Event, Result>(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(tracer === undefined ? [] : [captureLambdaHandler(tracer, { captureResponse: false })])
    .use(logMetrics(metrics));
}
