/** GET /generations: the owner's generations, newest first, a page at a time. */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { cursorSecretFromEnv, generationsApiFromEnv } from '#shared/api/config.ts';
import { httpErrorHandler } from '#shared/api/errors.ts';
import { listQueryOf, ownerOf } from '#shared/api/http.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

// Read once, at cold start: no request waits for Secrets Manager.
const generations = generationsApiFromEnv('list', process.env, {
  cursorSecret: await cursorSecretFromEnv(),
});

export const handler = lambdaHandler(async (event: APIGatewayProxyEvent) => {
  const page = await generations.list(ownerOf(event), listQueryOf(event));
  return jsonResponse(200, page);
})
  .use(httpHeaderNormalizer())
  .use(securityHeaders())
  .use(httpErrorHandler());
