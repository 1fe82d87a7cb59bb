/** POST /generations: validates the body, records the generation queued and starts its workflow. */

import { ownerOf, readJsonBody } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { idempotencyKeyOf } from '#shared/api/idempotency-key.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import { submitGenerationFromEnv } from '#shared/api/submit-config.ts';

const submit = submitGenerationFromEnv();

export const handler = httpHandler(async (event, context) => {
  const owner = ownerOf(event);
  // The body first: an oversize one answers 413 whatever else is wrong with the request.
  const body = readJsonBody(event);
  const idempotencyKey = idempotencyKeyOf(event);
  const accepted = await submit(owner, body, {
    requestId: event.requestContext.requestId,
    idempotencyKey,
    lambdaContext: context,
  });
  return jsonResponse(202, accepted);
});
