/** GET /openapi.json (no auth): the OpenAPI document generated from the zod schemas. */
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { httpErrorHandler } from '#shared/api/errors.ts';
import { buildOpenApiDocument } from '#shared/api/openapi.ts';
import { jsonResponse, securityHeaders } from '#shared/api/responses.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const document = buildOpenApiDocument();

export const handler = lambdaHandler(async (_event: APIGatewayProxyEvent) =>
  jsonResponse(200, document),
)
  .use(httpHeaderNormalizer())
  .use(securityHeaders())
  .use(httpErrorHandler());
