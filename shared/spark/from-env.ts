/**
 * The Spark client of a Lambda function, configured from its environment. The API key is read
 * from Secrets Manager through Powertools parameters and cached for five minutes, so a rotated
 * key is picked up without a redeploy; it is never in an environment variable or a log.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { EnvNames, envInt, readEnv } from '../config/env.ts';
import * as z from '../zod.ts';
import { SparkClient } from './client.ts';

const SECRET_CACHE_SECONDS = 300;

export function sparkClientFromEnv(env: NodeJS.ProcessEnv = process.env): SparkClient {
  const config = readEnv(
    {
      [EnvNames.sparkBaseUrl]: z.url(),
      [EnvNames.sparkCreatePath]: z.optional(z.string().check(z.startsWith('/'))),
      [EnvNames.sparkTaskPath]: z.optional(z.string().check(z.includes('{id}'))),
      [EnvNames.sparkApiKeySecret]: z.string().check(z.minLength(1)),
      [EnvNames.sparkRequestTimeoutMs]: envInt(10_000),
    },
    env,
  );
  const secretName = config[EnvNames.sparkApiKeySecret];
  return new SparkClient({
    baseUrl: config[EnvNames.sparkBaseUrl],
    createPath: config[EnvNames.sparkCreatePath],
    taskPath: config[EnvNames.sparkTaskPath],
    timeoutMs: config[EnvNames.sparkRequestTimeoutMs],
    apiKey: async () => {
      const key = await getSecret<string>(secretName, { maxAge: SECRET_CACHE_SECONDS });
      if (typeof key !== 'string' || key.trim() === '') {
        throw new Error(`Secret ${secretName} holds no Spark API key`);
      }
      return key.trim();
    },
  });
}
