/**
 * EventBridge rules whose target is a queue: a matching event lands in the queue as EventBridge
 * sends it (the event, or the target's Input or InputPath), as `events.amazonaws.com` for the
 * rule, so only the queue's policy (CDK's `aws:SourceArn` statement) lets it in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '#infra/asl.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { iamGate } from '#local/iam/gate.ts';
import type { EventBridgeEvent } from '#local/runtime/event-bus.ts';
import { type RuleDelivery, wireEventRules } from '#local/runtime/event-rules.ts';
import { PendingJournal } from '#local/runtime/journal.ts';
import { type LocalSqsService, startLocalSqsService } from '#local/runtime/sqs/service.ts';

const pattern = { source: ['spark-t2i'], 'detail-type': ['Generation Completed'] };
const queueTarget = (extra: Record<string, unknown> = {}) => [
  { Id: 'Target0', Arn: { 'Fn::GetAtt': ['Deliveries', 'Arn'] }, ...extra },
];

const template: CfnTemplate = {
  Resources: {
    Events: { Type: 'AWS::Events::EventBus', Properties: { Name: 'ignored-locally' } },
    Deliveries: { Type: 'AWS::SQS::Queue', Properties: {} },
    Allowed: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Events' },
        EventPattern: pattern,
        Targets: queueTarget(),
      },
    },
    Detail: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Events' },
        EventPattern: pattern,
        Targets: queueTarget({ InputPath: '$.detail' }),
      },
    },
    // No statement of the queue's policy names this rule: its sends are refused.
    Stranger: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'Events' },
        EventPattern: pattern,
        Targets: queueTarget({ Input: '{"from":"stranger"}' }),
      },
    },
    DeliveriesPolicy: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [{ Ref: 'Deliveries' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: ['Allowed', 'Detail'].map((rule) => ({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Resource: { 'Fn::GetAtt': ['Deliveries', 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
          })),
        },
      },
    },
  },
};

let dir: string;
let service: LocalSqsService;
let logs: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-rule-queues-'));
  const identities = await LocalIdentities.open(dir, []);
  logs = [];
  service = await startLocalSqsService({
    template,
    dataDir: dir,
    timeScale: 1,
    access: { identities, gate: iamGate(template) },
    host: '127.0.0.1',
    functions: {},
    roleCaller: () => {
      throw new Error('no roles here');
    },
    log: (line) => logs.push(line),
  });
});

afterEach(async () => {
  await service.close();
  await rm(dir, { recursive: true, force: true });
});

function event(detailType: string): EventBridgeEvent {
  return {
    version: '0',
    id: 'e-1',
    'detail-type': detailType,
    source: 'spark-t2i',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: { id: 'g_1', status: 'completed' },
  };
}

describe('a rule whose target is a queue', () => {
  it('sends each matching event, as the queue’s policy allows for that rule only', () => {
    const { journal } = PendingJournal.open<RuleDelivery>(join(dir, 'rules.jsonl'));
    const rules = wireEventRules(
      template,
      () => ({ invoke: () => Promise.reject(new Error('no functions here')) }),
      journal,
      1,
      (line) => logs.push(line),
      undefined,
      service.sendForRule,
    );
    rules.route([{ bus: 'Events', event: event('Generation Completed') }]);
    rules.route([{ bus: 'Events', event: event('Generation Failed') }]);

    const bodies = service.sqs
      .byName('Deliveries')
      .messages()
      .map((message) => JSON.parse(message.body));
    expect(bodies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'e-1', 'detail-type': 'Generation Completed' }),
        { id: 'g_1', status: 'completed' },
      ]),
    );
    expect(bodies).toHaveLength(2);
    expect(service.sqs.byName('Deliveries').messages()[0]?.senderId).toBe('events.amazonaws.com');
    expect(logs.join('\n')).toMatch(
      /rule arn:aws:events:us-east-1:000000000000:rule\/Events\/Stranger could not send to arn:aws:sqs:us-east-1:000000000000:Deliveries: User: events.amazonaws.com is not authorized to perform: sqs:SendMessage/,
    );
    rules.stop();
  });
});
