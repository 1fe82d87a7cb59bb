/**
 * The GET routes of batches, one function routed by API Gateway's resource path: the list, one
 * batch, its generations in line order, and its report.
 */
import { readBatchesFromEnv } from '#shared/api/batch-config.ts';
import { cursorSecretFromEnv } from '#shared/api/config.ts';
import { NotFoundError } from '#shared/api/errors.ts';
import { listQueryOf, ownerOf, pathParameterOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import type { ReadBatches } from '#shared/api/use-cases/batches/read.ts';

// Read once per environment, by its first request (the cursor secret is fetched then); a failed
// read is tried again by the next request instead of being kept.
let reads: Promise<ReadBatches> | undefined;

export const handler = httpHandler(async (event) => {
  reads ??= cursorSecretFromEnv()
    .then((secret) => readBatchesFromEnv(secret))
    .catch((error: unknown) => {
      reads = undefined;
      throw error;
    });
  const batches = await reads;
  const owner = ownerOf(event);
  const id = pathParameterOf(event, 'id');
  switch (event.resource) {
    case '/batches':
      return jsonResponse(200, await batches.list(owner, listQueryOf(event)));
    case '/batches/{id}':
      return jsonResponse(200, await batches.get(owner, id));
    case '/batches/{id}/generations':
      return jsonResponse(200, await batches.generations(owner, id, listQueryOf(event)));
    case '/batches/{id}/report':
      return jsonResponse(200, await batches.report(owner, id));
    default:
      throw new NotFoundError(`No route ${event.resource}`);
  }
});
