/**
 * Configuration of the API functions, read once at cold start and validated (a missing or
 * malformed variable fails the function's start with its name). Each route has its own factory
 * that reads only what its use case needs, so the stack gives each function only its own
 * variables and grants. The authorizer's is `authorizer-config.ts`: what this module imports
 * (the repository, the use cases) would run at every cold start of the authorizer
 * (docs/decisions.md D36).
 */

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { lazyS3, lazyStepFunctions } from '#shared/aws/lazy.ts';
import { putEventsOnFirstUse } from '#shared/aws/put-events-on-first-use.ts';
import { RecordSettings, Resources } from '#shared/contracts/environment.ts';
import { ConfigurationError, envInt, readEnv, readSettings } from '#shared/contracts/setting.ts';
import { stepFunctionsExecutions } from '#shared/generation/executions.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import * as z from '#shared/zod.ts';
import { CURSOR_SECRET_ID_VARIABLE, CursorCodec, MIN_CURSOR_SECRET_LENGTH } from './cursor.ts';
import { API_KEYS_TABLE_VARIABLE } from './key-table.ts';
import { DEFAULT_PRESIGNED_URL_TTL_SECONDS, type Presign, s3Presigner } from './presign.ts';
import { type CancelGeneration, cancelGeneration } from './use-cases/cancel.ts';
import { type GetGeneration, getGeneration } from './use-cases/get.ts';
import { type ListGenerations, listGenerations } from './use-cases/list.ts';

/** Variables of the API functions (beyond the shared `EnvNames`). */
export const ApiEnv = {
  apiKeysTable: API_KEYS_TABLE_VARIABLE,
  idempotencyTable: 'IDEMPOTENCY_TABLE',
  metadataMaxBytes: 'METADATA_MAX_BYTES',
  presignedUrlTtlSeconds: 'PRESIGNED_URL_TTL_SECONDS',
  /** The Secrets Manager secret (ARN or name) whose random value signs list cursors. */
  cursorSecretId: CURSOR_SECRET_ID_VARIABLE,
} as const;

export const tableName = z.string().check(z.minLength(1));
export const stateMachineArn = z
  .string()
  .check(
    z.regex(/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[^:]+$/, 'must be a state machine ARN'),
  );
const presignTtl = z.pipe(
  envInt(DEFAULT_PRESIGNED_URL_TTL_SECONDS),
  z.int().check(z.gte(1), z.lte(604_800)),
);

/**
 * The secret list cursors are signed with, read from Secrets Manager through Powertools
 * parameters. The list function reads it once per environment, on its first request (its module's
 * import calls nothing); Powertools keeps it cached for {@link CURSOR_SECRET_CACHE_SECONDS}.
 */
export async function cursorSecretFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const values = readEnv({ [ApiEnv.cursorSecretId]: z.string().check(z.minLength(1)) }, env);
  const id = values[ApiEnv.cursorSecretId];
  const secret = await getSecret<string>(id, { maxAge: CURSOR_SECRET_CACHE_SECONDS });
  if (typeof secret !== 'string' || secret.length < MIN_CURSOR_SECRET_LENGTH) {
    throw new ConfigurationError(
      `Secret ${id} (${ApiEnv.cursorSecretId}) holds no cursor secret of at least ${MIN_CURSOR_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

/** How long Powertools keeps the cursor secret once read. */
export const CURSOR_SECRET_CACHE_SECONDS = 3600;

/** The generations repository, with the records' retention. */
export function generationRepositoryFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): GenerationRepository {
  const values = readEnv({ [Resources.generationsTable.env]: tableName }, env);
  return new GenerationRepository(dynamoDb(), values[Resources.generationsTable.env], {
    retentionDays: readSettings(RecordSettings, env).retentionDays,
  });
}

function presignerFromEnv(env: NodeJS.ProcessEnv): Presign {
  const values = readEnv({ [ApiEnv.presignedUrlTtlSeconds]: presignTtl }, env);
  return s3Presigner(lazyS3, values[ApiEnv.presignedUrlTtlSeconds]);
}

/** GET /generations/{id}. */
export function getGenerationFromEnv(env: NodeJS.ProcessEnv = process.env): GetGeneration {
  return getGeneration({
    repository: generationRepositoryFromEnv(env),
    presign: presignerFromEnv(env),
  });
}

/** GET /generations, with the cursor secret `cursorSecretFromEnv` read. */
export function listGenerationsFromEnv(
  cursorSecret: string,
  env: NodeJS.ProcessEnv = process.env,
): ListGenerations {
  return listGenerations({
    repository: generationRepositoryFromEnv(env),
    presign: presignerFromEnv(env),
    cursors: new CursorCodec(cursorSecret),
  });
}

/** DELETE /generations/{id}. */
export function cancelGenerationFromEnv(env: NodeJS.ProcessEnv = process.env): CancelGeneration {
  const values = readEnv(
    {
      [Resources.stateMachineArn.env]: stateMachineArn,
      [Resources.eventBusName.env]: z.string().check(z.minLength(1)),
    },
    env,
  );
  return cancelGeneration({
    repository: generationRepositoryFromEnv(env),
    presign: presignerFromEnv(env),
    executions: stepFunctionsExecutions(lazyStepFunctions, values[Resources.stateMachineArn.env]),
    // Loaded on the first cancel, not at the cold start of a route that may never publish.
    publish: eventBridgePublisher(putEventsOnFirstUse, values[Resources.eventBusName.env]),
    now: () => new Date(),
  });
}
