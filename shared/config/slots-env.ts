/**
 * The provider slots' configuration, in a module of its own: the slots code loads the DynamoDB
 * SDK, which functions reading only the other workflow settings (the copy step) do not need.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SlotSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { ProviderSlots } from '#shared/generation/slot-store.ts';

/** The provider slots (concurrency cap) of the functions that take or give back slots. */
export function providerSlotsFromEnv(
  client: DynamoDBDocumentClient,
  env: NodeJS.ProcessEnv = process.env,
): ProviderSlots {
  const { slotsTable, maxConcurrentTasks } = readSettings(SlotSettings, env);
  return new ProviderSlots(client, slotsTable, maxConcurrentTasks);
}
