/** EventBridge rules with Lambda targets, as the template configures them. */
import { randomUUID } from 'node:crypto';
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import { invokeAsync } from '#local/runtime/async-invocation.ts';
import type { ExecutionEngine, ExecutionRecord } from '#local/runtime/executions.ts';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import { LOCAL_REGION } from '#local/runtime/storage.ts';

/**
 * EventBridge rules as the template configures them, for Lambda targets: a rule on Step
 * Functions "Execution Status Change" events invokes its function (asynchronously, with retries)
 * for every execution end that matches its pattern; a `rate(...)` rule invokes it on that rate
 * (scaled by the time scale). Executions interrupted by a shutdown emit nothing: on AWS they would
 * still be running.
 */
export function wireEventRules(
  template: CfnTemplate,
  engine: ExecutionEngine,
  invokerFor: (ruleArn: string) => Invoker,
  timeScale: number,
  log: (line: string) => void,
): { startSchedules(): void; stop(): void } {
  const rules = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule')
    .map(([logicalId, resource]) => {
      const rule = resolveIntrinsics(resource.Properties, template) as EventRule;
      const arn = String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId, 'Arn'] }, template));
      return { ...rule, lambda: invokerFor(arn) };
    })
    .filter((rule) => rule.State !== 'DISABLED');
  const lambdaTargets = (rule: EventRule) =>
    (rule.Targets ?? [])
      .map((target) => target.Arn)
      .filter((arn) => arn.startsWith('arn:aws:lambda:'));
  let stopped = false;
  engine.onExecutionEnd((execution) => {
    if (stopped || execution.interrupted) return;
    const event = executionStatusChangeEvent(execution, engine.stateMachineArn);
    for (const rule of rules) {
      if (rule.EventPattern === undefined || !matchesPattern(rule.EventPattern, event)) continue;
      for (const arn of lambdaTargets(rule)) {
        void invokeAsync(rule.lambda, arn, event, timeScale, log);
      }
    }
  });
  const timers: NodeJS.Timeout[] = [];
  return {
    startSchedules() {
      for (const rule of rules) {
        if (rule.ScheduleExpression === undefined) continue;
        const everyMs = rateMs(rule.ScheduleExpression) * timeScale;
        for (const arn of lambdaTargets(rule)) {
          const timer = setInterval(() => {
            const event = {
              version: '0',
              id: randomUUID(),
              'detail-type': 'Scheduled Event',
              source: 'aws.events',
              account: '000000000000',
              time: new Date().toISOString(),
              region: LOCAL_REGION,
              resources: [],
              detail: {},
            };
            void invokeAsync(rule.lambda, arn, event, timeScale, log);
          }, everyMs);
          timer.unref();
          timers.push(timer);
        }
      }
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
    },
  };
}

interface EventRule {
  readonly State?: string;
  readonly EventPattern?: Record<string, unknown>;
  readonly ScheduleExpression?: string;
  readonly Targets?: ReadonlyArray<{ readonly Arn: string }>;
}

/** The event Step Functions sends to EventBridge when an execution's status changes. */
function executionStatusChangeEvent(execution: ExecutionRecord, stateMachineArn: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
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

/** EventBridge pattern matching for what the stack's rules use: value lists and nesting. */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(expected)) {
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((value) => expected.includes(value));
    }
    if (typeof expected === 'object' && expected !== null) {
      return matchesPattern(expected as Record<string, unknown>, actual);
    }
    return actual === expected;
  });
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
