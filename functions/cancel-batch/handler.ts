/** DELETE /batches/{id}: cancels the batch and its unfinished generations; answers the batch. */
import { cancelBatchFromEnv } from '#shared/api/batch-config.ts';
import { ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';

const cancelBatch = cancelBatchFromEnv();

export const handler = httpHandler(async (event, context) => {
  const batch = await cancelBatch(ownerOf(event), pathParameterOf(event, 'id'), () =>
    context.getRemainingTimeInMillis(),
  );
  return jsonResponse(200, batch);
});
