/**
 * The middy chain of every HTTP function: the Lambda chain (logger context, metrics), then header
 * names normalised, the security headers on every answer, and errors turned into the API's error
 * body. The security headers come before the error handler, so its `onError` runs after it and
 * an error's answer carries them too.
 */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { httpErrorHandler } from './errors.ts';
import { securityHeaders } from './responses.ts';

export function httpHandler(
  handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>,
) {
  return lambdaHandler<APIGatewayProxyEvent, APIGatewayProxyResult>(handler)
    .use(httpHeaderNormalizer())
    .use(securityHeaders())
    .use(httpErrorHandler());
}
