/** GET /generations/{id}: the owner's generation, with pre-signed image URLs. */
import { getGenerationFromEnv } from '#shared/api/config.ts';
import { ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';

const getGeneration = getGenerationFromEnv();

export const handler = httpHandler(async (event) => {
  const generation = await getGeneration(ownerOf(event), pathParameterOf(event, 'id'));
  return jsonResponse(200, generation);
});
