/** GET /generations/{id}: the owner's generation, with pre-signed image URLs. */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { generationsApiFromEnv } from '#shared/api/config.ts';
import { httpErrorHandler } from '#shared/api/errors.ts';
import { ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const generations = generationsApiFromEnv('get');

export const handler = lambdaHandler(async (event: APIGatewayProxyEvent) => {
  const generation = await generations.get(ownerOf(event), pathParameterOf(event, 'id'));
  return jsonResponse(200, generation);
})
  .use(httpHeaderNormalizer())
  .use(securityHeaders())
  .use(httpErrorHandler());
