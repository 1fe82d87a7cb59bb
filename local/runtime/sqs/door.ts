/**
 * The local SQS's endpoint, for the AWS SDK v3 (`@aws-sdk/client-sqs` speaks the JSON protocol:
 * `POST /` with `X-Amz-Target: AmazonSQS.<Action>`). Each request passes the same door as every
 * local AWS endpoint (`local/aws/access.ts`): its SigV4 signature verified under the signing name
 * `sqs`, then its action authorised on the queue's ARN against the caller's identity policies and
 * the queue's `AWS::SQS::QueuePolicy`. Errors are SQS's own (`errors.ts`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AccessOptions, checkAccess } from '#local/aws/access.ts';
import { sendRefusal } from '#local/aws/errors.ts';
import type { Caller } from '#local/aws/identities.ts';
import { closeServer, listen, readBody } from '#local/http/server.ts';
import { accessesOf, sqsActions } from '#local/runtime/sqs/actions.ts';
import { SqsError } from '#local/runtime/sqs/errors.ts';
import type { LocalSqs } from '#local/runtime/sqs/local-sqs.ts';

const TARGET_PREFIX = 'AmazonSQS.';
/** A batch of ten messages at the largest size, with room for the JSON around them. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.0';

export interface SqsDoor {
  /** The origin the queues' URLs are under (`http://127.0.0.1:<port>`). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startSqsDoor(
  sqs: LocalSqs,
  access: AccessOptions,
  host = '127.0.0.1',
): Promise<SqsDoor> {
  const actions = sqsActions(sqs);
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const read = await readBody(request, { maxBytes: MAX_REQUEST_BYTES, overLimit: 'drain' });
    if (read.kind === 'aborted') return void response.destroy();
    if (read.kind === 'too-large') {
      return sendError(
        response,
        new SqsError('RequestEntityTooLarge', 'Request too large', 'RequestEntityTooLarge', 413),
      );
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    let input: Record<string, unknown> = {};
    let malformed = false;
    try {
      const text = read.body.toString('utf8');
      input = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      malformed = true; // answered once the caller is known
    }
    const signed = {
      method: request.method ?? 'POST',
      url: request.url ?? '/',
      headers: request.headers,
      body: read.body,
    };
    const checked = await checkAccess(access, signed, 'sqs', () =>
      action in actions && !malformed ? accessesOf(action, input) : [],
    );
    if (!checked.ok) return sendRefusal(response, 'json', checked.refusal);
    try {
      const run = actions[action];
      if (!run) {
        throw new SqsError(
          'UnsupportedOperation',
          `The local SQS has no action ${target}.`,
          'AWS.SimpleQueueService.UnsupportedOperation',
        );
      }
      if (malformed) throw new SqsError('SerializationException', 'The body is not JSON.');
      const answer = await run(input, senderIdOf(checked.caller));
      const body = JSON.stringify(answer);
      if (response.destroyed) return;
      response
        .writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body) })
        .end(body);
    } catch (error) {
      if (!(error instanceof SqsError)) throw error;
      sendError(response, error);
    }
  }

  const port = await listen(server, 0, host);
  const url = `http://${host}:${port}`;
  sqs.endpoint = url;
  return {
    url,
    async close() {
      sqs.close();
      await closeServer(server);
    },
  };
}

function sendError(response: ServerResponse, error: SqsError): void {
  if (response.destroyed) return;
  const body = JSON.stringify({
    __type: `com.amazonaws.sqs#${error.name}`,
    message: error.message,
  });
  response
    .writeHead(error.status, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
      'x-amzn-query-error': `${error.queryCode};Sender`,
    })
    .end(body);
}

/** `SenderId` of a message: the account for its administrator, the role's session otherwise. */
function senderIdOf(caller: Caller): string {
  return caller.kind === 'admin' ? '000000000000' : `${caller.roleName}:local`;
}
