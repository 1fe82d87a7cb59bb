/**
 * GET /webhooks/secret (made on the first read) and POST /webhooks/secret/rotate: the owner's
 * signing secret. One function for both: they share their table and their grants but UpdateItem.
 */
import { ownerOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import { webhookSecretRoutesFromEnv } from '#shared/api/webhook-config.ts';

const routes = webhookSecretRoutesFromEnv();

export const handler = httpHandler(async (event) => {
  const owner = ownerOf(event);
  if (event.httpMethod === 'POST') return jsonResponse(200, await routes.rotate(owner));
  return jsonResponse(200, await routes.read(owner));
});
