/** GET /generations: the owner's generations, newest first, a page at a time. */
import { cursorSecretFromEnv, listGenerationsFromEnv } from '#shared/api/config.ts';
import { listQueryOf, ownerOf } from '#shared/api/http.ts';
import { httpHandler } from '#shared/api/http-handler.ts';
import { jsonResponse } from '#shared/api/responses.ts';
import type { ListGenerations } from '#shared/api/use-cases/list.ts';

// Read once per environment, by its first request (importing the module calls nothing, so it
// loads anywhere); a failed read is tried again by the next request instead of being kept.
let listGenerations: Promise<ListGenerations> | undefined;
function listFromEnv(): Promise<ListGenerations> {
  return cursorSecretFromEnv().then((cursorSecret) => listGenerationsFromEnv(cursorSecret));
}

export const handler = httpHandler(async (event) => {
  listGenerations ??= listFromEnv().catch((error: unknown) => {
    listGenerations = undefined;
    throw error;
  });
  const page = await (await listGenerations)(ownerOf(event), listQueryOf(event));
  return jsonResponse(200, page);
});
