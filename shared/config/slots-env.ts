/**
 * The provider slots' configuration, in a module of its own: the slots code loads the DynamoDB
 * SDK, which functions reading only the other workflow settings (the copy step) do not need.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProviderSlots } from '../generation/slots.ts';
import * as z from '../zod.ts';
import { EnvNames, envInt, readEnv } from './env.ts';

/** The provider slots (concurrency cap) of the functions that take or give back slots. */
export function providerSlotsFromEnv(
  client: DynamoDBDocumentClient,
  env: NodeJS.ProcessEnv = process.env,
): ProviderSlots {
  const values = readEnv(
    {
      [EnvNames.slotsTable]: z.string().check(z.minLength(1)),
      [EnvNames.maxConcurrentTasks]: envInt(),
    },
    env,
  );
  return new ProviderSlots(
    client,
    values[EnvNames.slotsTable],
    values[EnvNames.maxConcurrentTasks],
  );
}
