/**
 * The API keys the local runtime lets in: those of `SPARK_T2I_API_KEYS` (`owner:key,…`),
 * registered in the keys table as `keys create` would store them, or else one key of the owner
 * `local`, made at the first start and kept in the data dir.
 *
 * A key keeps its history across starts: one revoked (`spark-t2i keys revoke`) stays revoked
 * when it is still listed, as a deployed key would; the start goes on with a warning naming
 * the owner, rather than failing or letting the key in again.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { ApiKeyStore } from '#shared/api/keys.ts';
import { keepPrivate, writePrivateFile } from './private-files.ts';

/** The file in the data dir holding the key the CLI and `serve`'s examples use. */
export const LOCAL_KEY_FILE = 'local-api-key';

export interface ProvisionedKey {
  readonly key: string;
  readonly owner: string;
  /** True when the key was made by this start (it is printed once). */
  readonly created: boolean;
}

/** A `SPARK_T2I_API_KEYS` entry that cannot be registered as given. */
export class ApiKeyListError extends Error {
  override readonly name = 'ApiKeyListError';
}

/**
 * Registers the configured keys, or makes (once) and reuses the local owner's key. Answers the
 * key the CLI should use: the first listed key that is not revoked (the first listed when all
 * are), or the local owner's.
 */
export async function provisionApiKeys(
  store: Pick<ApiKeyStore, 'create' | 'register' | 'resolve' | 'find'>,
  dataDir: string,
  configured: string | undefined,
  warn: (line: string) => void,
): Promise<ProvisionedKey> {
  const keyFile = join(dataDir, LOCAL_KEY_FILE);
  if (configured) {
    const pairs = parseKeyList(configured);
    const active: Array<{ owner: string; key: string }> = [];
    for (const [index, pair] of pairs.entries()) {
      const state = await registerOnce(store, pair.owner, pair.key);
      if (state.revokedAt === undefined) {
        active.push(pair);
        continue;
      }
      warn(
        `warning: the API key listed ${ordinal(index + 1)} in SPARK_T2I_API_KEYS (owner "${pair.owner}") was revoked at ${state.revokedAt}; it stays revoked and is refused. Give "${pair.owner}" a new key (spark-t2i keys create) and list that one instead.`,
      );
    }
    const chosen = active[0] ?? (pairs[0] as { owner: string; key: string });
    await writePrivateFile(keyFile, `${chosen.key}\n`);
    return { ...chosen, created: false };
  }
  if (existsSync(keyFile)) {
    const key = (await readFile(keyFile, 'utf8')).split('\n')[0]?.trim() ?? '';
    const owner = await store.resolve(key);
    if (owner) {
      await keepPrivate(keyFile);
      return { key, owner, created: false };
    }
  }
  const created = await store.create('local');
  await writePrivateFile(keyFile, `${created.key}\n`);
  return { key: created.key, owner: created.owner, created: true };
}

function parseKeyList(configured: string): Array<{ owner: string; key: string }> {
  return configured.split(',').map((pair) => {
    const separator = pair.indexOf(':');
    const owner = pair.slice(0, separator).trim();
    const key = pair.slice(separator + 1).trim();
    // A key is sent as `Authorization: Bearer <key>`: it cannot be empty or hold a space.
    if (separator <= 0 || owner === '' || !/^\S+$/.test(key))
      throw new ApiKeyListError('SPARK_T2I_API_KEYS must look like "owner:key,owner2:key2"');
    return { owner, key };
  });
}

/**
 * Registers a listed key unless the table has it already. A key the table holds for another
 * owner is refused (it would hand that owner's generations over), unless it is revoked: then it
 * is nobody's, and is only reported.
 */
async function registerOnce(
  store: Pick<ApiKeyStore, 'register' | 'find'>,
  owner: string,
  key: string,
): Promise<{ revokedAt?: string }> {
  try {
    await store.register(owner, key);
    return {};
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const existing = await store.find(key);
  if (existing?.revokedAt !== undefined) return { revokedAt: existing.revokedAt };
  if (existing?.owner !== owner) {
    throw new ApiKeyListError(
      `An API key in SPARK_T2I_API_KEYS is registered to another owner than "${owner}"`,
    );
  }
  return {};
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}
