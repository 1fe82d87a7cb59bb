/** POST /generations: validates the body, records the generation queued and starts its workflow. */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { httpErrorHandler } from '#shared/api/errors.ts';
import { idempotencyKeyOf, ownerOf, readJsonBody } from '#shared/api/http.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { submitApiFromEnv } from '#shared/api/submit-config.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const generations = submitApiFromEnv();

export const handler = lambdaHandler(async (event: APIGatewayProxyEvent, context) => {
  const owner = ownerOf(event);
  // The body first: an oversize one answers 413 whatever else is wrong with the request.
  const body = readJsonBody(event);
  const idempotencyKey = idempotencyKeyOf(event);
  const accepted = await generations.submit(owner, body, {
    requestId: event.requestContext.requestId,
    idempotencyKey,
    lambdaContext: context,
  });
  return jsonResponse(202, accepted);
})
  .use(httpHeaderNormalizer())
  .use(securityHeaders())
  .use(httpErrorHandler());
