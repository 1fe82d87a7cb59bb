/**
 * Configuration of the API functions, read once at cold start and validated (a missing or
 * malformed variable fails the function's start with its name). Each route reads only what it
 * uses, so the stack gives each function only its own variables and grants.
 */
import { dynamoDb } from '../aws/dynamodb.ts';
import { lazyEventBridge, lazyS3, lazyStepFunctions } from '../aws/lazy.ts';
import { EnvNames, envInt, readEnv } from '../config/env.ts';
import * as z from '../zod.ts';
import { defaultCursorSecret } from './cursor.ts';
import { GenerationsApi } from './generations.ts';
import { API_KEYS_TABLE_VARIABLE } from './key-table.ts';
import { ApiKeyStore } from './keys.ts';
import { DEFAULT_PRESIGNED_URL_TTL_SECONDS, s3Presigner } from './presign.ts';

/** Variables of the API functions (beyond the shared `EnvNames`). */
export const ApiEnv = {
  apiKeysTable: API_KEYS_TABLE_VARIABLE,
  idempotencyTable: 'IDEMPOTENCY_TABLE',
  metadataMaxBytes: 'METADATA_MAX_BYTES',
  presignedUrlTtlSeconds: 'PRESIGNED_URL_TTL_SECONDS',
  /** Signs list cursors; defaults to a value derived from the generations table name. */
  cursorSecret: 'CURSOR_SECRET',
} as const;

/** The routes configured here; POST /generations has its own module (`submit-config.ts`). */
export type GenerationsRoute = 'get' | 'list' | 'cancel';

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

/** The API key store of the authorizer (`API_KEYS_TABLE`). */
export function apiKeyStoreFromEnv(env: NodeJS.ProcessEnv = process.env): ApiKeyStore {
  const values = readEnv({ [ApiEnv.apiKeysTable]: tableName }, env);
  return new ApiKeyStore(dynamoDb(), values[ApiEnv.apiKeysTable]);
}

/** The generations operations, configured for one route. */
export function generationsApiFromEnv(
  route: GenerationsRoute,
  env: NodeJS.ProcessEnv = process.env,
): GenerationsApi {
  const base = readEnv({ [EnvNames.generationsTable]: tableName }, env);
  const table = base[EnvNames.generationsTable];
  const common = { dynamoDb: dynamoDb(), tableName: table };
  switch (route) {
    case 'get': {
      const values = readEnv({ [ApiEnv.presignedUrlTtlSeconds]: presignTtl }, env);
      return new GenerationsApi({
        ...common,
        presign: s3Presigner(lazyS3, values[ApiEnv.presignedUrlTtlSeconds]),
      });
    }
    case 'list': {
      const values = readEnv(
        {
          [ApiEnv.presignedUrlTtlSeconds]: presignTtl,
          [ApiEnv.cursorSecret]: z.optional(z.string().check(z.minLength(16))),
        },
        env,
      );
      return new GenerationsApi({
        ...common,
        presign: s3Presigner(lazyS3, values[ApiEnv.presignedUrlTtlSeconds]),
        cursorSecret: values[ApiEnv.cursorSecret] ?? defaultCursorSecret(table),
      });
    }
    case 'cancel': {
      const values = readEnv(
        {
          [ApiEnv.presignedUrlTtlSeconds]: presignTtl,
          [EnvNames.stateMachineArn]: stateMachineArn,
          [EnvNames.eventBusName]: z.string().check(z.minLength(1)),
        },
        env,
      );
      return new GenerationsApi({
        ...common,
        presign: s3Presigner(lazyS3, values[ApiEnv.presignedUrlTtlSeconds]),
        stepFunctions: lazyStepFunctions,
        stateMachineArn: values[EnvNames.stateMachineArn],
        eventBridge: lazyEventBridge,
        eventBusName: values[EnvNames.eventBusName],
      });
    }
  }
}
