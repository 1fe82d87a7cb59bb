/** DELETE /generations/{id}: cancels a generation that has not ended and answers its record. */
import { cancelGenerationFromEnv } from '#shared/api/config.ts';
import { ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';

const cancelGeneration = cancelGenerationFromEnv();

export const handler = httpHandler(async (event) => {
  const generation = await cancelGeneration(ownerOf(event), pathParameterOf(event, 'id'));
  return jsonResponse(200, generation);
});
