/**
 * Logger, metrics and tracer, created once per process and shared by every handler.
 * Service name, log level and sampling come from the standard POWERTOOLS_* variables the stack
 * sets. Every log entry goes through the redacting replacer (`redaction.ts`): secret-looking keys
 * and credentials inside strings are replaced, so a mistake in a log call cannot leak a key.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { redactingReplacer } from './redaction.ts';

const SERVICE = 'spark-t2i';
const NAMESPACE = 'SparkT2I';

export const logger = new Logger({ serviceName: SERVICE, jsonReplacerFn: redactingReplacer });
// Metrics' own warnings (an invocation without metrics) go through the logger and its level.
export const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE, logger });

/**
 * The tracer, loaded only where tracing is on. The X-Ray SDK under it installs async hooks on
 * import (its automatic context mode) that track every promise of the process, a cost on every
 * await. So it is loaded only in a Lambda sandbox (`AWS_LAMBDA_FUNCTION_NAME`) with tracing not
 * switched off, the only place Powertools traces anyway: the local runtime, the CLI and tests
 * never load it.
 */
export const tracer: Tracer | undefined =
  process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ||
  process.env.POWERTOOLS_TRACE_ENABLED === 'false'
    ? undefined
    : new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName: SERVICE });

/** An AWS SDK client, traced as a subsegment of the invocation when tracing is on. */
export function traced<Client>(client: Client): Client {
  return tracer === undefined ? client : tracer.captureAWSv3Client(client);
}
