/**
 * The AWS control-plane APIs the functions call, served locally over the AWS JSON protocol so the
 * real SDK v3 clients reach them through `AWS_ENDPOINT_URL_<SERVICE>`: Step Functions
 * (StartExecution, StopExecution, DescribeExecution, SendTaskSuccess/Failure/Heartbeat),
 * EventBridge (PutEvents) and Secrets Manager (GetSecretValue). It also serves the runtime's own
 * admin routes under `/__local/` (schedules, S3 event redelivery, and what the interpreter
 * counted for each execution).
 *
 * Every request is SigV4-verified (each service under its own signing name) and authorised
 * against IAM as the service would; the admin routes take the administrator's signature only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AccessOptions, checkAccess, type RequestedAccess } from '#local/aws/access.ts';
import { authenticationRefusal, sendRefusal } from '#local/aws/errors.ts';
import { LOCAL_ADMIN_SERVICE } from '#local/aws/signed-fetch.ts';
import { closeServer, listen, readBody, sendJson } from '#local/http/server.ts';
import type { PutEvents } from '#local/runtime/event-bus.ts';
import {
  ExecutionAlreadyExistsError,
  ExecutionDoesNotExistError,
  type ExecutionEngine,
  type ExecutionRecord,
  TaskTokenError,
} from '#local/runtime/executions.ts';

export interface AdminRoutes {
  /** `GET /__local/schedules` */
  listSchedules(): unknown;
  /** `POST /__local/schedules/<name>/trigger`; answers the generation id. */
  triggerSchedule(name: string): Promise<{ id: string }>;
  /**
   * `POST /__local/s3/redeliver` `{bucket, key}`: delivers the latest S3 event of that object
   * again, as S3's at-least-once delivery may; answers how many notifications it went to.
   */
  redeliverS3Event(bucket: string, key: string): { delivered: number };
}

export interface ControlPlaneOptions {
  readonly engine: ExecutionEngine;
  /** EventBridge's PutEvents (journaled and routed to the rules of each bus: `event-bus.ts`). */
  readonly putEvents: PutEvents;
  /** Secret id or ARN -> value (the provider API key). */
  readonly secrets: ReadonlyMap<string, string>;
  readonly admin: AdminRoutes;
  /** Who may sign (and the IAM gate, when enforced). */
  readonly access: AccessOptions;
  readonly host?: string;
  /**
   * StartExecution's rate, as a token bucket: Step Functions throttles it too
   * (ThrottlingException), and callers back off. Locally it also keeps one machine from starting
   * thousands of executions in the same second. @default { burst: 100, perSecond: 50 }
   */
  readonly startExecutionRate?: { readonly burst: number; readonly perSecond: number };
}

class AwsError extends Error {
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.status = status;
  }
}

type Operation = (body: Record<string, unknown>) => Promise<unknown> | unknown;

export async function startControlPlane(
  options: ControlPlaneOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const { engine } = options;
  const startRate = options.startExecutionRate ?? { burst: 100, perSecond: 50 };
  let startTokens = startRate.burst;
  let startRefilledAt = Date.now();
  const takeStartToken = () => {
    const now = Date.now();
    startTokens = Math.min(
      startRate.burst,
      startTokens + ((now - startRefilledAt) / 1000) * startRate.perSecond,
    );
    startRefilledAt = now;
    if (startTokens < 1) throw new AwsError('ThrottlingException', 'Rate exceeded');
    startTokens -= 1;
  };
  const describe = (execution: ExecutionRecord) => ({
    executionArn: execution.executionArn,
    stateMachineArn: engine.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate.getTime() / 1000,
    ...(execution.stopDate && { stopDate: execution.stopDate.getTime() / 1000 }),
    input: execution.input,
    ...(execution.error && { error: execution.error }),
    ...(execution.cause && { cause: execution.cause }),
  });
  const operations: Record<string, Operation> = {
    'AWSStepFunctions.StartExecution': (body) => {
      if (body.stateMachineArn !== engine.stateMachineArn) {
        throw new AwsError(
          'StateMachineDoesNotExist',
          `State Machine Does Not Exist: '${body.stateMachineArn}'`,
        );
      }
      takeStartToken();
      const execution = engine.start(
        body.name as string | undefined,
        (body.input as string) ?? '{}',
      );
      return {
        executionArn: execution.executionArn,
        startDate: execution.startDate.getTime() / 1000,
      };
    },
    'AWSStepFunctions.StopExecution': (body) => {
      const execution = engine.stop(
        body.executionArn as string,
        body.error as string,
        body.cause as string,
      );
      return { stopDate: (execution.stopDate ?? new Date()).getTime() / 1000 };
    },
    'AWSStepFunctions.DescribeExecution': (body) =>
      describe(engine.describe(body.executionArn as string)),
    'AWSStepFunctions.SendTaskSuccess': (body) => {
      engine.sendTaskSuccess(body.taskToken as string, (body.output as string) ?? '{}');
      return {};
    },
    'AWSStepFunctions.SendTaskFailure': (body) => {
      engine.sendTaskFailure(
        body.taskToken as string,
        body.error as string | undefined,
        body.cause as string | undefined,
      );
      return {};
    },
    'AWSStepFunctions.SendTaskHeartbeat': (body) => {
      engine.sendTaskHeartbeat(body.taskToken as string);
      return {};
    },
    'AWSEvents.PutEvents': async (body) => {
      const entries = (body.Entries as Array<Record<string, unknown>>) ?? [];
      const ids = await options.putEvents(entries);
      return { FailedEntryCount: 0, Entries: ids.map((EventId) => ({ EventId })) };
    },
    'secretsmanager.GetSecretValue': (body) => {
      const id = body.SecretId as string;
      const value = options.secrets.get(id);
      if (value === undefined) {
        throw new AwsError(
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret.",
        );
      }
      return {
        ARN: id,
        Name: id.split(':').pop(),
        SecretString: value,
        VersionId: 'local',
        VersionStages: ['AWSCURRENT'],
      };
    },
  };

  const server = createServer((request, response) => {
    void handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  });
  async function handle(request: IncomingMessage, response: ServerResponse) {
    const read = await readBody(request);
    // The client went away before its request was whole: no one to answer.
    if (read.kind !== 'body') return void response.destroy();
    const raw = read.body;
    const body = raw.toString('utf8');
    const url = new URL(request.url ?? '/', 'http://local');
    const signed = {
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      headers: request.headers,
      body: raw,
    };
    if (url.pathname.startsWith('/__local/')) {
      const checked = await checkAccess(options.access, signed, LOCAL_ADMIN_SERVICE, () => []);
      if (checked.ok && checked.caller.kind !== 'admin') {
        const refusal = authenticationRefusal(
          'missing',
          'json',
          'The admin routes take the administrator’s credentials (endpoints.json).',
        );
        return sendRefusal(response, 'json', refusal);
      }
      if (!checked.ok) return sendRefusal(response, 'json', checked.refusal);
      return admin(signed.method, url.pathname, response, body);
    }
    const target = request.headers['x-amz-target'];
    const operation = typeof target === 'string' ? operations[target] : undefined;
    const contentType = String(request.headers['content-type'] ?? 'application/x-amz-json-1.0');
    let input: Record<string, unknown> = {};
    let malformed = false;
    try {
      input = body.length ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      // Answered below, once the caller is known.
      malformed = true;
    }
    const service =
      typeof target === 'string' ? SIGNING_NAMES[target.split('.')[0] as string] : undefined;
    const checked = await checkAccess(options.access, signed, service ?? 'states', () =>
      typeof target === 'string' ? accessesOf(target, input, engine.stateMachineArn) : [],
    );
    if (!checked.ok) return sendRefusal(response, 'json', checked.refusal);
    try {
      if (!operation)
        throw new AwsError('UnknownOperationException', `Unknown operation ${String(target)}`);
      if (malformed) throw new AwsError('SerializationException', 'The body is not JSON');
      const answer = await operation(input);
      response.writeHead(200, { 'content-type': contentType }).end(JSON.stringify(answer));
    } catch (error) {
      const type =
        error instanceof AwsError || error instanceof TaskTokenError
          ? error.name
          : error instanceof ExecutionAlreadyExistsError
            ? 'ExecutionAlreadyExists'
            : error instanceof ExecutionDoesNotExistError
              ? 'ExecutionDoesNotExist'
              : 'InternalFailure';
      const status =
        error instanceof AwsError ? error.status : type === 'InternalFailure' ? 500 : 400;

      response
        .writeHead(status, { 'content-type': contentType, 'x-amzn-errortype': type })
        .end(JSON.stringify({ __type: type, message: (error as Error).message }));
    }
  }
  async function admin(method: string, path: string, response: ServerResponse, body: string) {
    const json = (status: number, value: unknown) => sendJson(response, status, value);
    if (method === 'POST' && path === '/__local/s3/redeliver') {
      const { bucket, key } = (body ? JSON.parse(body) : {}) as { bucket?: string; key?: string };
      const answer = options.admin.redeliverS3Event(String(bucket), String(key));
      return json(answer.delivered > 0 ? 200 : 404, answer);
    }
    if (method === 'GET' && path === '/__local/schedules')
      return json(200, options.admin.listSchedules());
    if (method === 'GET' && path === '/__local/executions')
      return json(200, engine.list().map(executionView));
    const execution = /^\/__local\/executions\/([^/]+)$/.exec(path);
    if (method === 'GET' && execution?.[1]) {
      const name = decodeURIComponent(execution[1]);
      const found = engine.list().find((record) => record.name === name);
      if (found) return json(200, executionView(found));
      return json(404, {
        error: { code: 'UNKNOWN_EXECUTION', message: `No execution named ${name}` },
      });
    }
    const trigger = /^\/__local\/schedules\/([^/]+)\/trigger$/.exec(path);
    if (method === 'POST' && trigger?.[1]) {
      try {
        return json(200, await options.admin.triggerSchedule(decodeURIComponent(trigger[1])));
      } catch (error) {
        return json(404, {
          error: { code: 'UNKNOWN_SCHEDULE', message: (error as Error).message },
        });
      }
    }
    return json(404, { error: { code: 'NOT_FOUND', message: `No route ${method} ${path}` } });
  }

  const port = await listen(server, 0, options.host ?? '127.0.0.1');
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () => closeServer(server),
  };
}

/**
 * `GET /__local/executions[/<name>]`: what the interpreter counted for an execution, for the
 * benchmarks (a Standard workflow is billed per state transition).
 */
function executionView(execution: ExecutionRecord) {
  return {
    name: execution.name,
    executionArn: execution.executionArn,
    status: execution.status,
    startDate: execution.startDate.toISOString(),
    stopDate: execution.stopDate?.toISOString() ?? null,
    transitions: execution.transitions,
    retries: execution.retries,
    currentState: execution.currentState ?? null,
    ...(execution.error && { error: execution.error }),
  };
}

/** Each JSON service's target prefix → its SigV4 signing name. */
const SIGNING_NAMES: Record<string, string> = {
  AWSStepFunctions: 'states',
  AWSEvents: 'events',
  secretsmanager: 'secretsmanager',
};

const ACCOUNT_AND_REGION = 'us-east-1:000000000000';

/** What an operation does, in IAM's words (the Service Authorization Reference's resources). */
function accessesOf(
  target: string,
  input: Record<string, unknown>,
  stateMachineArn: string,
): RequestedAccess[] {
  const [prefix, operation] = target.split('.') as [string, string];
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  switch (prefix) {
    case 'AWSStepFunctions': {
      const action = `states:${operation}`;
      if (operation === 'StartExecution') {
        return [{ action, resource: text(input.stateMachineArn) }];
      }
      if (operation.startsWith('SendTask')) {
        // A task token names no resource of its own: the grant is on the state machine.
        return [{ action, resource: stateMachineArn }];
      }
      return [{ action, resource: text(input.executionArn) }];
    }
    case 'AWSEvents': {
      const entries = Array.isArray(input.Entries) ? input.Entries : [];
      const buses = new Set(
        entries.map((entry) => text((entry as Record<string, unknown>).EventBusName) || 'default'),
      );
      return [...buses].map((bus) => ({
        action: `events:${operation}`,
        resource: bus.startsWith('arn:')
          ? bus
          : `arn:aws:events:${ACCOUNT_AND_REGION}:event-bus/${bus}`,
      }));
    }
    case 'secretsmanager': {
      const id = text(input.SecretId);
      return [
        {
          action: `secretsmanager:${operation}`,
          resource: id.startsWith('arn:')
            ? id
            : `arn:aws:secretsmanager:${ACCOUNT_AND_REGION}:secret:${id}`,
        },
      ];
    }
    default:
      return [];
  }
}
