/**
 * The webhook deliveries' managed parts, as synthesized: rules that send only events a webhook
 * asked for, an encrypted queue with its dead-letter queue and alarm, and the delivery function's
 * event source reporting failures item by item.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AttributeType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS } from '#shared/webhooks/backoff.ts';
import { Webhooks, type WebhooksProps } from '../../infra/constructs/webhooks.ts';
import { synthesizeStack } from '../helpers/stack.ts';

let template: Template;

beforeAll(() => {
  ({ template } = synthesizeStack({}));
});

const queueId = (prefix: string) => {
  const id = Object.keys(template.findResources('AWS::SQS::Queue')).find((key) =>
    key.startsWith(prefix),
  );
  if (id === undefined) throw new Error(`no queue ${prefix}`);
  return id;
};

describe('the webhook deliveries', () => {
  it.each([
    ['Generation Completed', 'generation.completed'],
    ['Generation Failed', 'generation.failed'],
    ['Generation Cancelled', 'generation.cancelled'],
    ['Batch Completed', 'batch.completed'],
  ])('send %s to the queue only when its webhook asked for %s', (detailType, event) => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['spark-t2i'],
        'detail-type': [detailType],
        detail: { webhookEvents: [event] },
      },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [queueId('WebhooksDeliveries'), 'Arn'] } }),
      ],
    });
  });

  it('keep messages encrypted and over TLS only, the failing ones in a dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 4 * 86_400,
      VisibilityTimeout: 180,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [queueId('WebhooksDeadLetters'), 'Arn'] },
        maxReceiveCount: MAX_ATTEMPTS + 5,
      },
    });
    for (const prefix of ['WebhooksDeliveries', 'WebhooksDeadLetters']) {
      const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter(
        (policy) => JSON.stringify(policy.Properties.Queues).includes(queueId(prefix)),
      );
      const statements = policies.flatMap(
        (policy) => policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>,
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('let only the bus rules of this stack send to the queue', () => {
    const policy = Object.values(template.findResources('AWS::SQS::QueuePolicy')).find((found) =>
      JSON.stringify(found.Properties.Queues).includes(queueId('WebhooksDeliveries')),
    );
    const senders = (
      (policy?.Properties.PolicyDocument.Statement ?? []) as Array<Record<string, unknown>>
    ).filter((statement) => statement.Effect === 'Allow');
    expect(senders).toHaveLength(4);
    for (const statement of senders) {
      expect(statement).toMatchObject({
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': expect.anything() } },
      });
    }
  });

  it('take small batches, report failures item by item, and bound their concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId('WebhooksDeliveries'), 'Arn'] },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  it('page when a delivery reaches the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [queueId('WebhooksDeadLetters'), 'QueueName'] },
        },
      ],
      Threshold: 1,
      AlarmActions: [Match.anyValue()],
    });
  });

  it.each([
    [{ batchSize: 0 }, /batchSize must be a whole number from 1 to 10/],
    [{ batchSize: 11 }, /batchSize must be a whole number from 1 to 10/],
    [{ maxConcurrency: 1 }, /maxConcurrency must be a whole number from 2 to 1000/],
  ])('refuse %j', (props, message) => {
    const stack = new Stack(new App());
    const table = (id: string) =>
      new TableV2(stack, id, { partitionKey: { name: 'id', type: AttributeType.STRING } });
    const base: WebhooksProps = {
      eventBus: new EventBus(stack, 'Bus'),
      generationsTable: table('Generations'),
      batchesTable: table('Batches'),
      apiKeysTable: table('Keys'),
      imagesBucket: new Bucket(stack, 'Images'),
      presignedUrlTtlSeconds: 900,
    };
    expect(() => new Webhooks(stack, 'Webhooks', { ...base, ...props })).toThrow(message);
  });
});
