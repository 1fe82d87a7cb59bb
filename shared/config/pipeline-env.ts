/** Readers of the pipeline settings that more than one function needs. */

import type { PollingPolicy } from '../generation/polling.ts';
import { insecureOrigin, type UrlPolicy } from '../images/address-guard.ts';
import * as z from '../zod.ts';
import { CopyEnv, envInt, envNumber, PollingEnv, readEnv } from './env.ts';

export function pollingPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): PollingPolicy {
  const values = readEnv(
    {
      [PollingEnv.expectedGenerationSeconds]: envInt(10),
      [PollingEnv.intervalSeconds]: envInt(2),
      [PollingEnv.backoffRate]: envNumber(1.5),
      [PollingEnv.maxIntervalSeconds]: envInt(30),
      [PollingEnv.maxPolls]: envInt(120),
      [PollingEnv.maxElapsedSeconds]: envInt(1800),
      [PollingEnv.firstPollPercentile]: envNumber(5),
      [PollingEnv.learnedSamples]: envInt(32),
      [PollingEnv.recheckSeconds]: envNumber(8),
      [PollingEnv.recheckIntervalMs]: envNumber(500),
    },
    env,
  );
  return {
    expectedGenerationSeconds: values[PollingEnv.expectedGenerationSeconds],
    intervalSeconds: values[PollingEnv.intervalSeconds],
    backoffRate: values[PollingEnv.backoffRate],
    maxIntervalSeconds: values[PollingEnv.maxIntervalSeconds],
    maxPolls: values[PollingEnv.maxPolls],
    maxElapsedSeconds: values[PollingEnv.maxElapsedSeconds],
    firstPollPercentile: values[PollingEnv.firstPollPercentile],
    learnedSamples: values[PollingEnv.learnedSamples],
    recheckSeconds: values[PollingEnv.recheckSeconds],
    recheckIntervalMs: values[PollingEnv.recheckIntervalMs],
  };
}

const commaList = z.pipe(
  z._default(z.string(), ''),
  z.transform((list: string) =>
    list
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  ),
);

export interface CopySettings {
  readonly policy: UrlPolicy;
  readonly maxImageBytes: number;
  readonly downloadTimeoutMs: number;
}

export function copySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): CopySettings {
  const values = readEnv(
    {
      [CopyEnv.maxImageBytes]: envInt(50 * 1024 * 1024),
      [CopyEnv.downloadTimeoutMs]: envInt(60_000),
      [CopyEnv.allowedHosts]: commaList,
      [CopyEnv.insecureOrigins]: z.pipe(
        commaList,
        z.transform((origins: string[], ctx) =>
          origins.flatMap((origin) => {
            try {
              return [insecureOrigin(origin)];
            } catch (error) {
              ctx.issues.push({
                code: 'custom',
                message: (error as Error).message,
                input: origins,
              });
              return [];
            }
          }),
        ),
      ),
    },
    env,
  );
  return {
    policy: {
      insecureOrigins: values[CopyEnv.insecureOrigins],
      allowedHosts: values[CopyEnv.allowedHosts],
    },
    maxImageBytes: values[CopyEnv.maxImageBytes],
    downloadTimeoutMs: values[CopyEnv.downloadTimeoutMs],
  };
}
