/**
 * Configuration of POST /generations (see config.ts for the other routes): a module of its own
 * because only this route uses `Idempotency-Key` support, and the bundles of the others should
 * not carry Powertools idempotency and its JMESPath engine.
 */

import { randomUUID } from 'node:crypto';
import { lazyStepFunctions } from '#shared/aws/lazy.ts';
import { Resources } from '#shared/contracts/environment.ts';
import { envInt, readEnv } from '#shared/contracts/setting.ts';
import { stepFunctionsExecutions } from '#shared/generation/executions.ts';
import { webhookPolicyFromEnv } from '#shared/webhooks/settings.ts';
import * as z from '#shared/zod.ts';
import { ApiEnv, generationRepositoryFromEnv, stateMachineArn, tableName } from './config.ts';
import { idempotencyStore, idempotentStarts } from './idempotency.ts';
import { DEFAULT_METADATA_MAX_BYTES } from './limits.ts';
import { type SubmitGeneration, submitGeneration } from './use-cases/submit.ts';

/** POST /generations. */
export function submitGenerationFromEnv(env: NodeJS.ProcessEnv = process.env): SubmitGeneration {
  const values = readEnv(
    {
      [Resources.stateMachineArn.env]: stateMachineArn,
      [ApiEnv.idempotencyTable]: tableName,
      [ApiEnv.metadataMaxBytes]: z.pipe(
        envInt(DEFAULT_METADATA_MAX_BYTES),
        z.int().check(z.gte(0)),
      ),
    },
    env,
  );
  return submitGeneration({
    repository: generationRepositoryFromEnv(env),
    executions: stepFunctionsExecutions(lazyStepFunctions, values[Resources.stateMachineArn.env]),
    metadataMaxBytes: values[ApiEnv.metadataMaxBytes],
    webhookPolicy: webhookPolicyFromEnv(env),
    idempotency: idempotentStarts({
      persistenceStore: idempotencyStore(values[ApiEnv.idempotencyTable]),
    }),
    now: () => new Date(),
    newId: randomUUID,
  });
}
