/**
 * The Spark client of a Lambda function, configured from its environment. The API key is read
 * from Secrets Manager through Powertools parameters and cached for five minutes, so a rotated
 * key is picked up without a redeploy; it is never in an environment variable or a log.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { SparkSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { SparkClient } from './client.ts';

const SECRET_CACHE_SECONDS = 300;

export function sparkClientFromEnv(env: NodeJS.ProcessEnv = process.env): SparkClient {
  const config = readSettings(SparkSettings, env);
  const secretName = config.apiKeySecret;
  return new SparkClient({
    baseUrl: config.baseUrl,
    createPath: config.createPath,
    taskPath: config.taskPath,
    timeoutMs: config.requestTimeoutMs,
    apiKey: async () => {
      const key = await getSecret<string>(secretName, { maxAge: SECRET_CACHE_SECONDS });
      if (typeof key !== 'string' || key.trim() === '') {
        throw new Error(`Secret ${secretName} holds no Spark API key`);
      }
      return key.trim();
    },
  });
}
