/**
 * What the synthesized template says about SQS: its queues (`AWS::SQS::Queue`), the event
 * source mappings that read them (`AWS::Lambda::EventSourceMapping`), and the functions whose
 * failed asynchronous invocations go to one (`AWS::Lambda::EventInvokeConfig`'s
 * `DestinationConfig.OnFailure`). What the local SQS does not emulate (FIFO queues, a mapping's
 * filters) is refused here, at the start, rather than half-done.
 */
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import type { QueueSettings } from '#local/runtime/sqs/queue.ts';

export const SQS_ACCOUNT = '000000000000';

const QUEUE_PROPERTIES = new Set([
  'QueueName',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'MaximumMessageSize',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  // Encryption at rest changes nothing a caller sees (the key policy is read by IAM).
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'Tags',
]);

/** The template's queues, with SQS's defaults for what they leave out. */
export function templateQueues(template: CfnTemplate): QueueSettings[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::SQS::Queue')
    .map(([logicalId, resource]) => {
      const properties = (resolveIntrinsics(resource.Properties ?? {}, template) ?? {}) as Record<
        string,
        unknown
      >;
      for (const name of Object.keys(properties)) {
        if (!QUEUE_PROPERTIES.has(name)) {
          throw new Error(`The local SQS has no ${name} (queue ${logicalId})`);
        }
      }
      const name = String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId, 'QueueName'] }, template));
      const redrive = redrivePolicyOf(properties.RedrivePolicy, logicalId);
      return {
        name,
        arn: String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId, 'Arn'] }, template)),
        visibilityTimeout: seconds(properties.VisibilityTimeout, 30),
        messageRetentionPeriod: seconds(properties.MessageRetentionPeriod, 345_600),
        delaySeconds: seconds(properties.DelaySeconds, 0),
        receiveMessageWaitTimeSeconds: seconds(properties.ReceiveMessageWaitTimeSeconds, 0),
        maximumMessageSize: seconds(properties.MaximumMessageSize, 262_144),
        ...(redrive && { redrivePolicy: redrive }),
      };
    });
}

function seconds(value: unknown, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}

function redrivePolicyOf(
  value: unknown,
  logicalId: string,
): QueueSettings['redrivePolicy'] | undefined {
  if (value === undefined) return undefined;
  const policy = (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
  const target = policy.deadLetterTargetArn;
  const count = Number(policy.maxReceiveCount);
  if (typeof target !== 'string' || !Number.isInteger(count) || count < 1) {
    throw new Error(
      `The RedrivePolicy of queue ${logicalId} needs deadLetterTargetArn and maxReceiveCount`,
    );
  }
  return { deadLetterTargetArn: target, maxReceiveCount: count };
}

/** An SQS event source mapping, as the Lambda service polls for it. */
export interface QueueMapping {
  readonly logicalId: string;
  readonly queueArn: string;
  /** The function's name or ARN, as the mapping names it. */
  readonly functionName: string;
  /** @default 10 */
  readonly batchSize: number;
  /** @default 0 */
  readonly maximumBatchingWindowInSeconds: number;
  readonly reportBatchItemFailures: boolean;
  /** Concurrent invocations at most (ScalingConfig.MaximumConcurrency); undefined: no cap. */
  readonly maximumConcurrency?: number;
  readonly enabled: boolean;
}

const MAPPING_PROPERTIES = new Set([
  'EventSourceArn',
  'FunctionName',
  'BatchSize',
  'MaximumBatchingWindowInSeconds',
  'FunctionResponseTypes',
  'ScalingConfig',
  'Enabled',
  'Tags',
]);

/** The template's event source mappings that read an SQS queue. */
export function queueMappings(template: CfnTemplate): QueueMapping[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::EventSourceMapping')
    .map(([logicalId, resource]) => ({
      logicalId,
      properties: resolveIntrinsics(resource.Properties ?? {}, template) as Record<string, unknown>,
    }))
    .filter(({ properties }) => String(properties.EventSourceArn).startsWith('arn:aws:sqs:'))
    .map(({ logicalId, properties }) => {
      for (const name of Object.keys(properties)) {
        if (!MAPPING_PROPERTIES.has(name)) {
          throw new Error(`The local event source mappings have no ${name} (${logicalId})`);
        }
      }
      const types = (properties.FunctionResponseTypes ?? []) as string[];
      const scaling = properties.ScalingConfig as { MaximumConcurrency?: number } | undefined;
      return {
        logicalId,
        queueArn: String(properties.EventSourceArn),
        functionName: String(properties.FunctionName),
        batchSize: Number(properties.BatchSize ?? 10),
        maximumBatchingWindowInSeconds: Number(properties.MaximumBatchingWindowInSeconds ?? 0),
        reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
        ...(scaling?.MaximumConcurrency !== undefined && {
          maximumConcurrency: Number(scaling.MaximumConcurrency),
        }),
        enabled: properties.Enabled !== false && properties.Enabled !== 'false',
      };
    });
}

/**
 * Function ARN → the queue its failed asynchronous invocations go to
 * (`DestinationConfig.OnFailure.Destination` of its `EventInvokeConfig`, when that is a queue).
 */
export function onFailureQueues(template: CfnTemplate): Map<string, string> {
  const destinations = new Map<string, string>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
    const properties = resolveIntrinsics(resource.Properties ?? {}, template) as {
      FunctionName?: string;
      DestinationConfig?: { OnFailure?: { Destination?: string } };
    };
    const destination = properties.DestinationConfig?.OnFailure?.Destination;
    if (!destination?.startsWith('arn:aws:sqs:') || !properties.FunctionName) continue;
    const name = properties.FunctionName;
    const arn = name.startsWith('arn:')
      ? name
      : `arn:aws:lambda:us-east-1:${SQS_ACCOUNT}:function:${name}`;
    destinations.set(arn, destination);
  }
  return destinations;
}
