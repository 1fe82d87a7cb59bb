/**
 * The local SQS as the runtime starts it: the template's queues (kept in the data dir), their
 * door for the SDK, the URLs the functions get in place of the template's, Lambda's failure
 * destinations, and the event source mappings' pollers once the functions can be invoked.
 */
import { type CfnTemplate, queueUrl, resolveIntrinsics } from '#infra/asl.ts';
import { type AccessOptions, authorize } from '#local/aws/access.ts';
import type { IamPrincipal } from '#local/iam/policy-set.ts';
import type { LocalFunction } from '#local/lambda/service.ts';
import type { OnRetriesExhausted } from '#local/runtime/async-invocation.ts';
import { startSqsDoor } from '#local/runtime/sqs/door.ts';
import { LocalSqs } from '#local/runtime/sqs/local-sqs.ts';
import { type RunningPoller, startPoller } from '#local/runtime/sqs/poller.ts';
import { lambdaFailureDestinations, sendAs } from '#local/runtime/sqs/senders.ts';
import { onFailureQueues, queueMappings } from '#local/runtime/sqs/template-queues.ts';
import { LOCAL_REGION } from '#local/runtime/storage.ts';
import type { Endpoints } from '#local/runtime/types.ts';

const EVENTS = { kind: 'service', service: 'events.amazonaws.com' } as const;

export interface LocalSqsService {
  readonly sqs: LocalSqs;
  /** The door's origin: `AWS_ENDPOINT_URL_SQS` of the functions, `sqs.endpoint` of endpoints.json. */
  readonly endpoint: string;
  /**
   * The function's variables that hold a queue's URL as the template resolves it
   * (`https://sqs.us-east-1.amazonaws.com/…`), with the local URL instead: the SDK sends a
   * request to its `QueueUrl`'s host, so the template's would leave the machine.
   */
  localQueueUrls(environment: Readonly<Record<string, string>>): Record<string, string>;
  /** What `endpoints.json` lists of it: the endpoint, and each queue's URL by name. */
  endpoints(): Endpoints['sqs'];
  /** Sends an EventBridge rule's event to its queue target, as `events.amazonaws.com` for the rule. */
  sendForRule(ruleArn: string, queueArn: string, body: string): void;
  /** Lambda's `OnFailure` queue destinations, for the asynchronous invocations. */
  readonly onRetriesExhausted: OnRetriesExhausted;
  /**
   * Starts a poller per SQS event source mapping of the template, invoking through `lambda` (the
   * local Lambda itself: the mapping's invocations need no resource policy).
   */
  startPollers(lambda: { invoke(arnOrName: string, event: unknown): Promise<unknown> }): void;
  /** Stops the pollers: no receive after this; what they hold comes back after its visibility timeout. */
  stopPollers(): Promise<void>;
  /** Stops the pollers, then the door. */
  close(): Promise<void>;
}

export async function startLocalSqsService(options: {
  readonly template: CfnTemplate;
  readonly dataDir: string;
  readonly timeScale: number;
  readonly access: AccessOptions;
  readonly host: string;
  /** The stack's functions: Lambda sends a failure record as the function's role. */
  readonly functions: Readonly<Record<string, LocalFunction>>;
  /** A role of the template as a caller, by logical id. */
  readonly roleCaller: (roleLogicalId: string) => IamPrincipal;
  readonly log: (line: string) => void;
}): Promise<LocalSqsService> {
  const sqs = new LocalSqs({
    template: options.template,
    dataDir: options.dataDir,
    timeScale: options.timeScale,
  });
  const door = await startSqsDoor(sqs, options.access, options.host);
  const pollers: RunningPoller[] = [];
  const roleOfFunction = (arnOrName: string) => {
    const name = arnOrName.split(':function:').pop()?.split(':')[0] ?? arnOrName;
    const role = options.functions[name]?.roleLogicalId;
    return role === undefined ? undefined : options.roleCaller(role);
  };
  const functionRoles = new Map(
    Object.values(options.functions).map((fn) => [
      String(resolveIntrinsics({ 'Fn::GetAtt': [fn.logicalId, 'Arn'] }, options.template)),
      fn.roleLogicalId,
    ]),
  );
  const localUrls = new Map(
    sqs.queues().map((queue) => [queueUrl(queue.settings.name), sqs.urlOf(queue)]),
  );
  return {
    sqs,
    endpoint: door.url,
    endpoints: () => ({
      endpoint: door.url,
      region: LOCAL_REGION,
      queues: Object.fromEntries(
        sqs.queues().map((queue) => [queue.settings.name, sqs.urlOf(queue)]),
      ),
    }),
    localQueueUrls(environment) {
      const replaced: Record<string, string> = {};
      for (const [name, value] of Object.entries(environment)) {
        const local = localUrls.get(value);
        if (local !== undefined) replaced[name] = local;
      }
      return replaced;
    },
    sendForRule(ruleArn, queueArn, body) {
      sendAs(sqs, options.access, EVENTS, queueArn, body, ruleArn);
    },
    onRetriesExhausted: lambdaFailureDestinations(
      sqs,
      options.access,
      onFailureQueues(options.template),
      (functionArn) => {
        const role = functionRoles.get(functionArn);
        return role === undefined ? undefined : options.roleCaller(role);
      },
      options.log,
    ),
    startPollers(lambda) {
      for (const mapping of queueMappings(options.template)) {
        const role = roleOfFunction(mapping.functionName);
        pollers.push(
          startPoller(mapping, {
            sqs,
            invoke: (name, event) => lambda.invoke(name, event),
            allowed: (action, queueArn) =>
              role !== undefined &&
              authorize(options.access, role, [{ action, resource: queueArn }], 'json') ===
                undefined,
            timeScale: options.timeScale,
            log: options.log,
          }),
        );
      }
    },
    async stopPollers() {
      await Promise.allSettled(pollers.splice(0).map((poller) => poller.stop()));
    },
    async close() {
      const stopping = pollers.splice(0).map((poller) => poller.stop());
      await door.close();
      await Promise.allSettled(stopping);
    },
  };
}
