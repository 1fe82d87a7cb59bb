/** GET /openapi.json (no auth): the OpenAPI document generated from the zod schemas. */
import { httpHandler } from '#shared/api/http-handler.ts';
import { buildOpenApiDocument } from '#shared/api/openapi.ts';
import { jsonResponse } from '#shared/api/responses.ts';

const document = buildOpenApiDocument();

export const handler = httpHandler(async () => jsonResponse(200, document));
