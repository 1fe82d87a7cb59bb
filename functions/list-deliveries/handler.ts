/** GET /generations/{id}/deliveries: every attempt of the generation's webhook deliveries. */
import { ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import { listDeliveriesFromEnv } from '#shared/api/webhook-config.ts';

const listDeliveries = listDeliveriesFromEnv();

export const handler = httpHandler(async (event) => {
  const deliveries = await listDeliveries(ownerOf(event), pathParameterOf(event, 'id'));
  return jsonResponse(200, deliveries);
});
