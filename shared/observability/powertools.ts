/**
 * Logger, metrics and tracer, created once per process and shared by every handler.
 * Service name, log level and sampling come from the standard POWERTOOLS_* variables the stack
 * sets. Every log entry goes through the redacting replacer (`redaction.ts`): secret-looking keys
 * and credentials inside strings are replaced, so a mistake in a log call cannot leak a key.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { redactingReplacer } from './redaction.ts';

const SERVICE = 'spark-t2i';
const NAMESPACE = 'SparkT2I';

export const logger = new Logger({ serviceName: SERVICE, jsonReplacerFn: redactingReplacer });
// Metrics' own warnings (an invocation without metrics) go through the logger and its level.
export const metrics = new Metrics({ serviceName: SERVICE, namespace: NAMESPACE, logger });
export const tracer = new Tracer({ serviceName: SERVICE });
