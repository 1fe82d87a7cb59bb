/**
 * The API keys table's names, shared by the stack, the API and the prompt-file trigger. No
 * imports: a module that imports SDK code would carry it into every bundle that reads a name.
 */

/** The variable naming the API keys table, for every function that reads it. */
export const API_KEYS_TABLE_VARIABLE = 'API_KEYS_TABLE';

/** The keys table's index by owner (partition key `owner`; `revokedAt` projected). */
export const API_KEYS_BY_OWNER_INDEX = {
  name: 'byOwner',
  partitionKey: 'owner',
  projected: ['revokedAt'],
} as const;
