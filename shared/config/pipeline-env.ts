/** Readers of the pipeline settings that more than one function needs. */

import {
  ImageCopySettings,
  imageInsecureOrigins,
  PollingSettings,
} from '#shared/contracts/environment.ts';
import { readSettings, type Setting, setting } from '#shared/contracts/setting.ts';
import type { PollingPolicy } from '#shared/generation/polling.ts';
import { insecureOrigin, type UrlPolicy } from '#shared/images/address-guard.ts';
import * as z from '#shared/zod.ts';

export function pollingPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): PollingPolicy {
  return readSettings(PollingSettings, env);
}

export interface CopySettings {
  readonly policy: UrlPolicy;
  readonly maxImageBytes: number;
  readonly downloadTimeoutMs: number;
}

/**
 * A list of exempt origins, each checked as `insecureOrigin` checks it (a bad one fails the
 * read): the image copy's, and the webhooks' (shared/webhooks/settings.ts).
 */
export function exemptOrigins<Env extends string>(declared: Setting<string[], Env>) {
  return setting({
    env: declared.env,
    read: z.pipe(
      declared.read,
      z.transform((origins: string[], ctx) =>
        origins.flatMap((origin) => {
          try {
            return [insecureOrigin(origin)];
          } catch (error) {
            ctx.issues.push({ code: 'custom', message: (error as Error).message, input: origins });
            return [];
          }
        }),
      ),
    ),
  });
}

const insecureOrigins = exemptOrigins(imageInsecureOrigins);

export function copySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): CopySettings {
  const values = readSettings({ ...ImageCopySettings, insecureOrigins }, env);
  return {
    policy: { insecureOrigins: values.insecureOrigins, allowedHosts: values.allowedHosts },
    maxImageBytes: values.maxImageBytes,
    downloadTimeoutMs: values.downloadTimeoutMs,
  };
}
