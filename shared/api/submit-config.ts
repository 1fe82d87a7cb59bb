/**
 * Configuration of POST /generations (see config.ts for the other routes): a module of its own
 * because only this route uses `Idempotency-Key` support, and the bundles of the others should
 * not carry Powertools idempotency and its JMESPath engine.
 */
import { dynamoDb } from '../aws/dynamodb.ts';
import { lazyStepFunctions } from '../aws/lazy.ts';
import { EnvNames, envInt, readEnv } from '../config/env.ts';
import * as z from '../zod.ts';
import { ApiEnv, stateMachineArn, tableName } from './config.ts';
import { GenerationsApi } from './generations.ts';
import { idempotencyStore, idempotentStarts } from './idempotency.ts';
import { DEFAULT_METADATA_MAX_BYTES } from './schemas.ts';

/** The generations operations, configured for POST /generations. */
export function submitApiFromEnv(env: NodeJS.ProcessEnv = process.env): GenerationsApi {
  const values = readEnv(
    {
      [EnvNames.generationsTable]: tableName,
      [EnvNames.stateMachineArn]: stateMachineArn,
      [ApiEnv.idempotencyTable]: tableName,
      [ApiEnv.metadataMaxBytes]: z.pipe(
        envInt(DEFAULT_METADATA_MAX_BYTES),
        z.int().check(z.gte(0)),
      ),
    },
    env,
  );
  return new GenerationsApi({
    dynamoDb: dynamoDb(),
    tableName: values[EnvNames.generationsTable],
    stepFunctions: lazyStepFunctions,
    stateMachineArn: values[EnvNames.stateMachineArn],
    metadataMaxBytes: values[ApiEnv.metadataMaxBytes],
    idempotency: idempotentStarts({
      persistenceStore: idempotencyStore(values[ApiEnv.idempotencyTable]),
    }),
  });
}
