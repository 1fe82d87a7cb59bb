/** EventBridge rules with Lambda targets, as the template configures them. */
import { randomUUID } from 'node:crypto';
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import {
  invokeAsync,
  journalledInvocations,
  type OnRetriesExhausted,
} from '#local/runtime/async-invocation.ts';
import { type BusEvent, busName, type EventBridgeEvent } from '#local/runtime/event-bus.ts';
import { checkPattern, matchesPattern } from '#local/runtime/event-patterns.ts';
import type { ExecutionEngine, ExecutionRecord } from '#local/runtime/executions.ts';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import type { PendingJournal, PendingWork } from '#local/runtime/journal.ts';
import { LOCAL_REGION } from '#local/runtime/storage.ts';

const ACCOUNT = '000000000000';

/** In the data dir: deliveries of events to the targets of rules with a pattern, not yet done. */
export const RULE_DELIVERIES_JOURNAL = 'event-deliveries-in-flight.jsonl';

/**
 * One event on its way to one target of a rule (a journal entry while in flight): the input the
 * target gets, and the rule, as whose source the function is invoked.
 */
export interface RuleDelivery {
  readonly ruleArn: string;
  readonly functionArn: string;
  readonly input: unknown;
}

/**
 * Sends an event to a rule's queue target, as EventBridge sends it (as `events.amazonaws.com`
 * for the rule: the queue's policy decides); throws when it may not.
 */
export type QueueTargetSender = (ruleArn: string, queueArn: string, body: string) => void;

/**
 * EventBridge rules as the template configures them, for Lambda and SQS targets. A rule with an event
 * pattern, on the bus it names (the default bus when it names none), invokes each of its
 * functions asynchronously (Lambda's retries) for every event of that bus that matches: the
 * events put on a bus (`route`, from `event-bus.ts`) and, on the default bus, Step Functions'
 * "Execution Status Change" events (`watch`). A `rate(...)` rule invokes its functions on that
 * rate (scaled by the time scale). A target gets its `Input` if it has one, the part of the event
 * its `InputPath` selects if it has that, else the event. After `stop` (the runtime shutting
 * down) nothing more is delivered; executions interrupted by the shutdown emit nothing: on AWS
 * they would still be running.
 *
 * Each delivery of a rule with a pattern is in `journal` from before its invocation until it
 * succeeded or its retries ran out, as Lambda keeps an asynchronous invocation until then;
 * `resume` delivers again one the last run left pending. A `rate(...)` firing is not journalled:
 * the rule fires again at its next tick.
 */
export function wireEventRules(
  template: CfnTemplate,
  invokerFor: (ruleArn: string) => Invoker,
  journal: PendingJournal<RuleDelivery>,
  timeScale: number,
  log: (line: string) => void,
  onRetriesExhausted?: OnRetriesExhausted,
  sendToQueue?: QueueTargetSender,
): {
  route(events: readonly BusEvent[]): void;
  watch(engine: ExecutionEngine): void;
  startSchedules(): void;
  resume(delivery: PendingWork<RuleDelivery>): void;
  stop(): void;
} {
  const rules = templateRules(template).map((rule) => ({ ...rule, lambda: invokerFor(rule.arn) }));
  // A resumed delivery names its rule by ARN; one the template no longer has is still delivered,
  // as Lambda keeps an invocation it accepted whatever becomes of the rule.
  const invokers = new Map(rules.map((rule) => [rule.arn, rule.lambda]));
  const invokerOf = (ruleArn: string) => {
    let invoker = invokers.get(ruleArn);
    if (invoker === undefined) {
      invoker = invokerFor(ruleArn);
      invokers.set(ruleArn, invoker);
    }
    return invoker;
  };
  const deliveries = journalledInvocations(
    journal,
    (delivery: RuleDelivery) => ({
      lambda: invokerOf(delivery.ruleArn),
      functionArn: delivery.functionArn,
      event: delivery.input,
    }),
    timeScale,
    log,
    onRetriesExhausted,
  );
  let stopped = false;
  // A queue target is sent to at once (the queue's journal keeps it from then on). A refusal is
  // logged: EventBridge would drop the event, or send it to the target's dead-letter queue.
  const sendTo = (ruleArn: string, queueArn: string, input: unknown) => {
    try {
      if (!sendToQueue) throw new Error('the local runtime has no SQS here');
      sendToQueue(ruleArn, queueArn, typeof input === 'string' ? input : JSON.stringify(input));
    } catch (error) {
      log(`rule ${ruleArn} could not send to ${queueArn}: ${(error as Error).message}`);
    }
  };
  const route = (events: readonly BusEvent[]) => {
    if (stopped) return;
    for (const { bus, event } of events) {
      for (const rule of rules) {
        if (rule.bus !== bus || rule.pattern === undefined) continue;
        if (!matchesPattern(rule.pattern, event)) continue;
        for (const target of rule.targets) {
          if (target.kind === 'queue') {
            sendTo(rule.arn, target.arn, target.Input ?? inputOf(target, event));
            continue;
          }
          deliveries.invoke({
            ruleArn: rule.arn,
            functionArn: target.arn,
            input: inputOf(target, event),
          });
        }
      }
    }
  };
  const timers: NodeJS.Timeout[] = [];
  return {
    route,
    watch(engine) {
      engine.onExecutionEnd((execution) => {
        if (execution.interrupted) return;
        route([
          { bus: 'default', event: executionStatusChangeEvent(execution, engine.stateMachineArn) },
        ]);
      });
    },
    startSchedules() {
      for (const rule of rules) {
        if (rule.schedule === undefined) continue;
        const everyMs = rateMs(rule.schedule) * timeScale;
        for (const target of rule.targets) {
          const timer = setInterval(() => {
            const event: EventBridgeEvent = {
              version: '0',
              id: randomUUID(),
              'detail-type': 'Scheduled Event',
              source: 'aws.events',
              account: ACCOUNT,
              time: new Date().toISOString(),
              region: LOCAL_REGION,
              resources: [],
              detail: {},
            };
            if (target.kind === 'queue')
              return sendTo(rule.arn, target.arn, target.Input ?? inputOf(target, event));
            // Not journalled: a firing a stop cut off is not owed, the next tick comes anyway.
            void invokeAsync(
              rule.lambda,
              target.arn,
              inputOf(target, event),
              timeScale,
              log,
              onRetriesExhausted,
            );
          }, everyMs);
          timer.unref();
          timers.push(timer);
        }
      }
    },
    resume: deliveries.resume,
    stop() {
      stopped = true;
      deliveries.stop();
      for (const timer of timers) clearInterval(timer);
    },
  };
}

interface TemplateRule {
  readonly arn: string;
  readonly bus: string;
  readonly pattern?: Record<string, unknown>;
  readonly schedule?: string;
  readonly targets: readonly RuleTarget[];
}

interface RuleTarget {
  readonly kind: 'lambda' | 'queue';
  readonly arn: string;
  readonly Input?: string;
  readonly InputPath?: string;
}

interface RuleProperties {
  readonly Name?: string;
  readonly State?: string;
  readonly EventBusName?: string;
  readonly EventPattern?: Record<string, unknown>;
  readonly ScheduleExpression?: string;
  readonly Targets?: ReadonlyArray<{
    readonly Arn: string;
    readonly Input?: string;
    readonly InputPath?: string;
    readonly InputTransformer?: unknown;
  }>;
}

/**
 * The template's enabled rules, resolved, with their Lambda targets. What the local runtime
 * cannot deliver as EventBridge would (a pattern operator it does not know, an input
 * transformer) is refused here, at the start.
 */
function templateRules(template: CfnTemplate): TemplateRule[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule')
    .map(([logicalId, resource]) => {
      const rule = resolveIntrinsics(resource.Properties, template) as RuleProperties;
      const bus = busName(rule.EventBusName);
      if (rule.EventPattern !== undefined) checkPattern(rule.EventPattern);
      const targets = (rule.Targets ?? [])
        .filter((target) => /^arn:aws:(lambda|sqs):/.test(target.Arn))
        .map((target) => {
          if (target.InputTransformer !== undefined) {
            throw new Error(`The local runtime has no input transformers (rule ${logicalId})`);
          }
          if (target.InputPath !== undefined) pathSteps(target.InputPath);
          const kind = target.Arn.startsWith('arn:aws:sqs:')
            ? ('queue' as const)
            : ('lambda' as const);
          return { ...target, kind, arn: target.Arn };
        });
      return {
        arn: String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId, 'Arn'] }, template)),
        bus,
        ...(rule.State !== 'DISABLED' && {
          ...(rule.EventPattern !== undefined && { pattern: rule.EventPattern }),
          ...(rule.ScheduleExpression !== undefined && { schedule: rule.ScheduleExpression }),
        }),
        targets,
      };
    });
}

/** What a target is invoked with: its constant `Input`, the part at its `InputPath`, or the event. */
function inputOf(target: RuleTarget, event: EventBridgeEvent): unknown {
  if (target.Input !== undefined) return JSON.parse(target.Input);
  if (target.InputPath === undefined) return event;
  let node: unknown = event;
  for (const step of pathSteps(target.InputPath)) {
    node = (node as Record<string, unknown> | undefined)?.[step];
  }
  return node;
}

/** The fields of an `InputPath` of the form `$` or `$.a.b` (any other JSONPath is refused). */
function pathSteps(path: string): string[] {
  if (!/^\$(\.[A-Za-z0-9_-]+)*$/.test(path)) {
    throw new Error(`The local runtime takes InputPath $ or $.field.field…, not ${path}`);
  }
  return path.split('.').slice(1);
}

/** The event Step Functions sends to EventBridge when an execution's status changes. */
function executionStatusChangeEvent(
  execution: ExecutionRecord,
  stateMachineArn: string,
): EventBridgeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: ACCOUNT,
    time: (execution.stopDate ?? new Date()).toISOString(),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: (execution.stopDate ?? new Date()).getTime(),
      input: execution.input,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

/** Milliseconds of an EventBridge `rate(N unit)` expression. */
export function rateMs(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) throw new Error(`The local runtime runs rate(...) rules only, not ${expression}`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[
    (match[2] as string).replace(/s$/, '') as 'minute' | 'hour' | 'day'
  ];
  return Number(match[1]) * unit;
}
