/** GET /generations/{id}: the owner's generation; 404 for a missing id and for another owner's. */

import { NotFoundError } from '#shared/api/errors.ts';
import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import { generationIdSchema } from '#shared/generation/model.ts';
import type { GenerationRepository, StoredRecord } from '#shared/generation/repository.ts';
import { toApiView } from './view.ts';

export interface GetGenerationDeps {
  readonly repository: GenerationRepository;
  readonly presign: Presign;
}

export type GetGeneration = (owner: string, id: string) => Promise<GenerationView>;

export function getGeneration(deps: GetGenerationDeps): GetGeneration {
  return async (owner, id) => toApiView(await readOwned(deps.repository, owner, id), deps.presign);
}

/**
 * The owner's record. An owner never learns anything about another owner's generations: a
 * foreign id is answered exactly like a missing one (404).
 */
export async function readOwned(
  repository: GenerationRepository,
  owner: string,
  id: string,
): Promise<StoredRecord> {
  if (!generationIdSchema.safeParse(id).success) throw new NotFoundError();
  const record = await repository.read(id);
  if (record === undefined || record.owner !== owner) throw new NotFoundError();
  return record;
}
