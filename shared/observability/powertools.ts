/**
 * Logger, metrics and tracer, created once per process and shared by every handler.
 * Service name, log level and sampling come from the standard POWERTOOLS_* variables the stack
 * sets. Keys and secrets are redacted by name so a mistake in a log call cannot leak them.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const SERVICE = 'spark-t2i';
const NAMESPACE = 'SparkT2I';

/** Field names whose values never reach a log line. */
export const REDACTED_KEYS = [
  'authorization',
  'apiKey',
  'api_key',
  'keyHash',
  'secret',
  'SecretString',
];

function redact(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of Object.keys(copy)) {
    if (REDACTED_KEYS.some((name) => name.toLowerCase() === key.toLowerCase())) {
      copy[key] = '[redacted]';
    }
  }
  return copy;
}

export const logger = new Logger({ serviceName: SERVICE, jsonReplacerFn: redact });
// Metrics' own warnings (an invocation without metrics) go through the logger and its level.
export const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE, logger });
export const tracer = new Tracer({ serviceName: SERVICE });
