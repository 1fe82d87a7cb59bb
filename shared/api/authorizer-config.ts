/**
 * Configuration of the authorizer: a module of its own, as it needs only the API keys table, and
 * `config.ts` reaches the generation routes' use cases, repository and schemas, which would be
 * built at every cold start of the authorizer without it using them (docs/decisions.md D36).
 */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { AuthorizerSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { ApiKeyStore } from './keys.ts';

/** The API key store of the authorizer (`API_KEYS_TABLE`). */
export function apiKeyStoreFromEnv(env: NodeJS.ProcessEnv = process.env): ApiKeyStore {
  const { apiKeysTable } = readSettings(AuthorizerSettings, env);
  return new ApiKeyStore(dynamoDb(), apiKeysTable);
}
