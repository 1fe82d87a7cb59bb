/**
 * Logger and metrics, created once per process and shared by every handler.
 * Service name, log level and namespace come from the standard POWERTOOLS_* variables the stack
 * sets. Every log entry goes through the redacting replacer (`redaction.ts`): secret-looking keys
 * and credentials inside strings are replaced, so a mistake in a log call cannot leak a key.
 *
 * Tracing is Lambda's own (active tracing on every function) with no tracer in the process: the
 * X-Ray SDK under Powertools' tracer cost every cold start more than the rest of a function's
 * code, and its async hook ran on every promise (docs/decisions.md D17). The SDK clients pass
 * the invocation's trace header on, so the services they call join the trace.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { redactingReplacer } from './redaction.ts';

const SERVICE = 'spark-t2i';
const NAMESPACE = 'SparkT2I';

export const logger = new Logger({ serviceName: SERVICE, jsonReplacerFn: redactingReplacer });
// Metrics' own warnings (an invocation without metrics) go through the logger and its level.
export const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE, logger });
