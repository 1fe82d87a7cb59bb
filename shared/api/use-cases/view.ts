/**
 * A record as the API shows it: pre-signed image URLs, and no empty `usage` or `costUsd` (the
 * workflow stores them as NULL when the provider gave none). Internal attributes (the index
 * partitions, the outbox, the expiry) never reach a caller.
 */

import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import type { StoredRecord } from '#shared/generation/repository.ts';
import { isPlainObject } from '#shared/json.ts';
import { logger } from '#shared/observability/powertools.ts';

export async function toApiView(record: StoredRecord, presign: Presign): Promise<GenerationView> {
  const images = await Promise.all(
    (record.images ?? []).map(async (image) => ({
      url: await presign({ bucket: image.bucket, key: image.key }),
      bucket: image.bucket,
      key: image.key,
      size: Number(image.size),
      sha256: image.sha256,
      contentType: image.contentType,
      width: Number(image.width),
      height: Number(image.height),
    })),
  );
  const { request } = record;
  const usage = record.usage;
  const costUsd = record.costUsd;
  const metadata = metadataOf(record);
  return {
    id: record.id,
    status: record.status,
    request: {
      prompt: request.prompt,
      use_pre_llm: request.use_pre_llm,
      seed: Number(request.seed),
      width: Number(request.width),
      height: Number(request.height),
    },
    source: record.source,
    ...(record.sourceRef !== undefined && { sourceRef: record.sourceRef }),
    ...(record.sparkTaskId !== undefined && { sparkTaskId: record.sparkTaskId }),
    polls: Number(record.polls ?? 0),
    images,
    ...(isPlainObject(usage) &&
      Object.keys(usage).length > 0 && { usage: usage as GenerationView['usage'] }),
    ...(costUsd !== undefined &&
      costUsd !== null &&
      Number.isFinite(Number(costUsd)) && {
        costUsd: Number(costUsd),
      }),
    ...(record.error !== undefined &&
      record.error !== null && {
        error: { code: record.error.code, message: record.error.message },
      }),
    ...(metadata !== undefined && { metadata }),
    ...(record.webhook !== undefined &&
      record.webhook !== null && {
        webhook: {
          url: record.webhook.url,
          events: record.webhook.events as NonNullable<GenerationView['webhook']>['events'],
        },
      }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.completedAt !== undefined && { completedAt: record.completedAt }),
  };
}

/** The caller's `metadata` back from its stored JSON text (or a map, in older records). */
function metadataOf(record: StoredRecord): Record<string, unknown> | undefined {
  return storedMetadata(record.metadata, { generationId: record.id });
}

/**
 * Stored metadata (JSON text, or a map in older items) as the object the caller sent; anything
 * else is logged with `about` (the item's id) and left out of the answer.
 */
export function storedMetadata(
  stored: unknown,
  about: Readonly<Record<string, string>>,
): Record<string, unknown> | undefined {
  if (stored === undefined) return undefined;
  if (typeof stored !== 'string') return isPlainObject(stored) ? stored : undefined;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (isPlainObject(parsed)) return parsed;
  } catch (error) {
    logger.error('An item holds metadata that is not JSON', { ...about, error: error as Error });
    return undefined;
  }
  logger.error('An item holds metadata that is not a JSON object', about);
  return undefined;
}
