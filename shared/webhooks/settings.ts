/**
 * The webhook target policy, read once: the origins exempt from https and public addresses (only
 * loopback origins the local runtime names; none on AWS).
 */
import { exemptOrigins } from '#shared/config/pipeline-env.ts';
import { webhookInsecureOrigins } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import type { WebhookTargetPolicy } from './target.ts';

export function webhookPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookTargetPolicy {
  const { insecureOrigins } = readSettings(
    { insecureOrigins: exemptOrigins(webhookInsecureOrigins) },
    env,
  );
  return { insecureOrigins };
}
