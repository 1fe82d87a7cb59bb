/** GET /generations: the owner's generations, newest first, a page at a time. */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { cursorSecretFromEnv, generationsApiFromEnv } from '#shared/api/config.ts';
import { httpErrorHandler } from '#shared/api/errors.ts';
import { listQueryOf, ownerOf } from '#shared/api/http.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

// Read once per environment, by its first request (importing the module calls nothing, so it
// loads anywhere); a failed read is tried again by the next request instead of being kept.
let generations: ReturnType<typeof listApi> | undefined;
function listApi() {
  return cursorSecretFromEnv().then((cursorSecret) =>
    generationsApiFromEnv('list', process.env, { cursorSecret }),
  );
}

export const handler = lambdaHandler(async (event: APIGatewayProxyEvent) => {
  generations ??= listApi().catch((error: unknown) => {
    generations = undefined;
    throw error;
  });
  const page = await (await generations).list(ownerOf(event), listQueryOf(event));
  return jsonResponse(200, page);
})
  .use(httpHeaderNormalizer())
  .use(securityHeaders())
  .use(httpErrorHandler());
