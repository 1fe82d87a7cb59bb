/** POST /batches: a prompt file as the body, or an upload request answered with a pre-signed PUT. */
import { BATCH_BODY_MAX_BYTES } from '#shared/api/batch-schemas.ts';
import { decodeBody } from '#shared/api/content-encoding.ts';
import { headerOf, ownerOf, readRawBody } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { idempotencyKeyOf } from '#shared/api/idempotency-key.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import { submitBatchFromEnv } from '#shared/api/submit-batch-config.ts';

const submit = submitBatchFromEnv();

export const handler = httpHandler(async (event, context) => {
  const owner = ownerOf(event);
  // The body first: an oversize one answers 413 whatever else is wrong with the request. A gzip
  // body is held to the limit as sent and, decompressed, as the file (D34-P).
  const body = decodeBody(
    readRawBody(event, BATCH_BODY_MAX_BYTES),
    headerOf(event, 'content-encoding'),
    BATCH_BODY_MAX_BYTES,
  );
  const idempotencyKey = idempotencyKeyOf(event);
  const batch = await submit(
    owner,
    { contentType: headerOf(event, 'content-type'), body },
    { ...(idempotencyKey !== undefined && { idempotencyKey }), lambdaContext: context },
  );
  return jsonResponse(201, batch);
});
