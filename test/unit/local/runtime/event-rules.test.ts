/**
 * EventBridge rules in the local runtime: events put on a bus (by either caller of PutEvents)
 * are journaled as before and delivered to the Lambda targets of the rules of that bus whose
 * pattern matches, with the target's Input or InputPath, retried as Lambda's asynchronous
 * invocation retries; Step Functions' status changes reach the default bus's rules. Each
 * delivery is journalled until done, so the next run on the data dir delivers again what a killed
 * one had not; a `rate(...)` rule's firings are not.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CfnTemplate } from '#infra/asl.ts';
import { localPutEvents } from '#local/runtime/event-bus.ts';
import {
  RULE_DELIVERIES_JOURNAL,
  type RuleDelivery,
  wireEventRules,
} from '#local/runtime/event-rules.ts';
import type { ExecutionEngine, ExecutionRecord } from '#local/runtime/executions.ts';
import { PendingJournal } from '#local/runtime/journal.ts';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:Counter';
const batchPattern = { source: ['spark-t2i'], detail: { batchId: [{ exists: true }] } };
const target = (extra: Record<string, unknown> = {}) => [
  { Id: 'Target0', Arn: { 'Fn::GetAtt': ['Counter', 'Arn'] }, ...extra },
];
const rule = (properties: Record<string, unknown>) => ({
  Type: 'AWS::Events::Rule',
  Properties: properties,
});

const template: CfnTemplate = {
  Resources: {
    Counter: { Type: 'AWS::Lambda::Function', Properties: {} },
    Events: { Type: 'AWS::Events::EventBus', Properties: { Name: 'ignored-locally' } },
    Batches: rule({
      EventBusName: { Ref: 'Events' },
      EventPattern: batchPattern,
      Targets: target(),
    }),
    BatchDetails: rule({
      EventBusName: { Ref: 'Events' },
      EventPattern: batchPattern,
      Targets: target({ InputPath: '$.detail' }),
    }),
    Constant: rule({
      Name: 'constant-rule',
      EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/Events',
      EventPattern: { detail: { status: [{ 'anything-but': ['queued'] }] } },
      Targets: target({ Input: '{"sweep":true}' }),
    }),
    Disabled: rule({
      State: 'DISABLED',
      EventBusName: { Ref: 'Events' },
      EventPattern: batchPattern,
      Targets: target(),
    }),
    // The same pattern on the default bus: events of the custom bus never reach it.
    OnDefault: rule({ EventPattern: batchPattern, Targets: target() }),
    ExecutionEnded: rule({
      EventPattern: {
        source: ['aws.states'],
        detail: { status: ['FAILED', 'TIMED_OUT'] },
      },
      Targets: target(),
    }),
  },
};

interface Call {
  readonly rule: string;
  readonly functionArn: string;
  readonly event: unknown;
}

let dir: string;
let calls: Call[];
let failures: number;
/** While set, the functions take events and never answer (slow, or the run is killed). */
let hanging: boolean;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spark-t2i-event-rules-'));
  calls = [];
  failures = 0;
  hanging = false;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A run of the runtime's rules, on the data dir's journal (what the last run left pending). */
function wire(timeScale = 1, rulesTemplate = template) {
  const lines: string[] = [];
  const { journal, pending } = PendingJournal.open<RuleDelivery>(
    join(dir, RULE_DELIVERIES_JOURNAL),
  );
  const rules = wireEventRules(
    rulesTemplate,
    (rule) => ({
      invoke: async (functionArn, event) => {
        calls.push({ rule, functionArn, event });
        if (hanging) return new Promise(() => undefined);
        if (failures > 0) {
          failures--;
          throw new Error('Sandbox.Timedout');
        }
        return null;
      },
    }),
    journal,
    timeScale,
    (line: string) => lines.push(line),
  );
  return {
    rules,
    putEvents: localPutEvents(join(dir, 'events.jsonl'), rules.route),
    lines,
    pending,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

const entry = (detail: Record<string, unknown>, bus: unknown = 'Events') => ({
  EventBusName: bus,
  Source: 'spark-t2i',
  DetailType: 'Generation Completed',
  Detail: JSON.stringify(detail),
  Resources: ['arn:x'],
});

/** An entry that names no bus (the SDK leaves `EventBusName` out). */
function onDefaultBus(detail: Record<string, unknown>) {
  const { EventBusName: _, ...rest } = entry(detail);
  return rest;
}

describe('EventBridge rules on a custom bus', () => {
  it('delivers a matching event to the rules of its bus, with their input', async () => {
    const { putEvents } = wire();
    const [id] = await putEvents([entry({ batchId: 'b-1', status: 'completed' })]);
    await settle();
    const event = {
      version: '0',
      id,
      'detail-type': 'Generation Completed',
      source: 'spark-t2i',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      region: 'us-east-1',
      resources: ['arn:x'],
      detail: { batchId: 'b-1', status: 'completed' },
    };
    const rules = 'arn:aws:events:us-east-1:000000000000:rule/Events';
    expect(calls).toEqual([
      { rule: `${rules}/Batches`, functionArn: FUNCTION_ARN, event },
      { rule: `${rules}/BatchDetails`, functionArn: FUNCTION_ARN, event: event.detail },
      { rule: `${rules}/constant-rule`, functionArn: FUNCTION_ARN, event: { sweep: true } },
    ]);
  });

  it('delivers nothing that does not match, nor to another bus', async () => {
    const { putEvents } = wire();
    await putEvents([
      entry({ status: 'queued' }), // no batchId; status excluded by anything-but
      entry({ batchId: 'b-1' }, 'other-bus'),
      { ...entry({ batchId: 'b-1' }), Source: 'elsewhere' },
    ]);
    await settle();
    // The anything-but rule excludes the first's status, and needs one: the others have none.
    expect(calls.map((call) => call.rule)).toEqual([]);
  });

  it('routes entries without a bus to the default bus', async () => {
    const { putEvents } = wire();
    await putEvents([onDefaultBus({ batchId: 'b-2' })]);
    await settle();
    expect(calls.map((call) => call.rule)).toEqual([
      'arn:aws:events:us-east-1:000000000000:rule/OnDefault',
    ]);
  });

  it('journals every entry as before, whether delivered or not', async () => {
    const { putEvents } = wire();
    const ids = await putEvents([entry({ batchId: 'b-1' }), onDefaultBus({ n: 1 })]);
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ id: ids[0], 'event-bus': 'Events', detail: { batchId: 'b-1' } }),
      expect.objectContaining({ id: ids[1], 'event-bus': 'default', detail: { n: 1 } }),
    ]);
    expect(Object.keys(JSON.parse(lines[0] as string))).toEqual([
      'version',
      'id',
      'detail-type',
      'source',
      'account',
      'time',
      'region',
      'resources',
      'event-bus',
      'detail',
    ]);
  });

  it('retries a failed delivery as Lambda retries an asynchronous invocation, twice', async () => {
    const { putEvents, lines } = wire(0.00001);
    failures = 6;
    await putEvents([entry({ batchId: 'b-1', status: 'queued' })]);
    await settle();
    // Two rules match; each invocation tried three times, then given up.
    expect(calls).toHaveLength(6);
    expect(lines).toEqual([
      'asynchronous invocation failed for good: Error',
      'asynchronous invocation failed for good: Error',
    ]);
  });

  it('delivers nothing once stopped, but still journals', async () => {
    const { putEvents, rules } = wire();
    rules.stop();
    await putEvents([entry({ batchId: 'b-1' })]);
    await settle();
    expect(calls).toEqual([]);
    expect(await readFile(join(dir, 'events.jsonl'), 'utf8')).toContain('b-1');
  });
});

/** An engine that only tells its executions' ends, as `end` has them end. */
function statusChanges() {
  const listeners: Array<(execution: ExecutionRecord) => void> = [];
  const fake = {
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    onExecutionEnd: (listener: (execution: ExecutionRecord) => void) => listeners.push(listener),
  };
  const end = (status: string, interrupted = false) => {
    for (const listener of listeners) {
      listener({
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:x',
        name: 'x',
        status,
        startDate: new Date(),
        stopDate: new Date(),
        input: '{}',
        interrupted,
      } as unknown as ExecutionRecord);
    }
  };
  return { engine: fake as unknown as ExecutionEngine, end };
}

describe('Step Functions status changes', () => {
  it('reach the default bus’s rules whose pattern matches, unless interrupted', async () => {
    const { rules } = wire();
    const { engine: fake, end } = statusChanges();
    rules.watch(fake);
    end('SUCCEEDED');
    end('FAILED');
    end('TIMED_OUT', true);
    await settle();
    expect(calls).toEqual([
      {
        rule: 'arn:aws:events:us-east-1:000000000000:rule/ExecutionEnded',
        functionArn: FUNCTION_ARN,
        event: expect.objectContaining({
          source: 'aws.states',
          'detail-type': 'Step Functions Execution Status Change',
          detail: expect.objectContaining({ status: 'FAILED' }),
        }),
      },
    ]);
  });
});

describe('deliveries across a restart', () => {
  const rules = 'arn:aws:events:us-east-1:000000000000:rule';

  it('delivers again, in the next run, the events a killed run had not delivered yet', async () => {
    hanging = true;
    const { putEvents } = wire();
    const [id] = await putEvents([entry({ batchId: 'b-1', status: 'completed' })]);
    await settle();
    const cutOff = [...calls];
    expect(cutOff.map((call) => call.rule)).toEqual([
      `${rules}/Events/Batches`,
      `${rules}/Events/BatchDetails`,
      `${rules}/Events/constant-rule`,
    ]);

    // The next run on the same data dir, as after a SIGKILL of the first.
    hanging = false;
    calls = [];
    const next = wire();
    expect(next.pending.map((work) => work.value)).toEqual(
      cutOff.map((call) => ({
        ruleArn: call.rule,
        functionArn: call.functionArn,
        input: call.event,
      })),
    );
    for (const delivery of next.pending) next.rules.resume(delivery);
    await settle();
    // The same events, under the same id, each to its rule's target as its rule.
    expect(calls).toEqual(cutOff);
    expect(calls[0]?.event).toMatchObject({ id });
    // Delivered now: the run after has nothing to carry on.
    expect(wire().pending).toEqual([]);
  });

  it('carries Step Functions status changes on as well', async () => {
    hanging = true;
    const { rules: first } = wire();
    const { engine: fake, end } = statusChanges();
    first.watch(fake);
    end('FAILED');
    await settle();

    hanging = false;
    calls = [];
    const next = wire();
    for (const delivery of next.pending) next.rules.resume(delivery);
    await settle();
    expect(calls).toEqual([
      {
        rule: `${rules}/ExecutionEnded`,
        functionArn: FUNCTION_ARN,
        event: expect.objectContaining({
          source: 'aws.states',
          detail: expect.objectContaining({ status: 'FAILED' }),
        }),
      },
    ]);
    expect(wire().pending).toEqual([]);
  });

  it('keeps nothing of a delivery whose retries ran out', async () => {
    const { putEvents, lines } = wire(0.00001);
    failures = 9; // every attempt of the three rules' deliveries fails
    await putEvents([entry({ batchId: 'b-1', status: 'completed' })]);
    await settle();
    expect(calls).toHaveLength(9);
    expect(lines).toHaveLength(3);
    expect(wire().pending).toEqual([]);
  });

  it('does not journal the firings of a rate(...) rule: the next tick fires anyway', async () => {
    hanging = true;
    const scheduled: CfnTemplate = {
      Resources: {
        Counter: template.Resources.Counter as never,
        Sweep: rule({ ScheduleExpression: 'rate(1 minute)', Targets: target() }) as never,
      },
    };
    const { rules: first } = wire(0.0001, scheduled);
    first.startSchedules();
    await settle();
    first.stop();
    expect(calls.length).toBeGreaterThan(0);
    expect(wire(1, scheduled).pending).toEqual([]);
  });
});

describe('rules the local runtime cannot deliver as EventBridge would', () => {
  it.each([
    ['an input transformer', { InputTransformer: { InputTemplate: '"x"' } }],
    ['a JSONPath beyond fields', { InputPath: '$.detail[0]' }],
  ])('refuses %s at the start', (_, extra) => {
    const broken: CfnTemplate = {
      Resources: {
        Counter: template.Resources.Counter as never,
        Rule: rule({ EventPattern: batchPattern, Targets: target(extra) }) as never,
      },
    };
    expect(() => wire(1, broken)).toThrow(/input transformers|InputPath/);
  });

  it('refuses a pattern operator it does not know', () => {
    const broken: CfnTemplate = {
      Resources: {
        Rule: rule({ EventPattern: { detail: { n: [{ numeric: ['>', 0] }] } } }) as never,
      },
    };
    expect(() => wire(1, broken)).toThrow(/not supported/);
  });
});
