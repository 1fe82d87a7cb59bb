/**
 * Messages the AWS services of the stack send to its queues, authorised as AWS authorises them:
 * an EventBridge rule's target as `events.amazonaws.com` for that rule (allowed only by the
 * queue's policy, for that `aws:SourceArn`), and Lambda's `OnFailure` destination of an
 * asynchronous invocation as the function's execution role (its identity policy).
 */
import { type AccessOptions, authorize } from '#local/aws/access.ts';
import type { IamPrincipal } from '#local/iam/policy-set.ts';
import { LambdaFunctionError } from '#local/lambda/errors.ts';
import type { ExhaustedInvocation, OnRetriesExhausted } from '#local/runtime/async-invocation.ts';
import type { LocalSqs } from '#local/runtime/sqs/local-sqs.ts';
import { SQS_ACCOUNT } from '#local/runtime/sqs/template-queues.ts';
import { LOCAL_REGION } from '#local/runtime/storage.ts';

/** A send the queue's policy or the caller's role does not allow. */
export class QueueSendDeniedError extends Error {
  override readonly name = 'AccessDeniedException';
}

export type AccessForSends = Pick<AccessOptions, 'gate' | 'onDenied' | 'onDecision'>;

/**
 * Sends `body` to the queue `queueArn` as `principal` (a service acting for `sourceArn`, or a
 * role), once IAM allows `sqs:SendMessage` on it.
 */
export function sendAs(
  sqs: LocalSqs,
  access: AccessForSends,
  principal: IamPrincipal,
  queueArn: string,
  body: string,
  sourceArn?: string,
): string {
  const refusal = authorize(
    access,
    principal,
    [
      {
        action: 'sqs:SendMessage',
        resource: queueArn,
        ...(sourceArn && {
          context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': SQS_ACCOUNT },
        }),
      },
    ],
    'json',
  );
  if (refusal) throw new QueueSendDeniedError(refusal.message);
  const senderId =
    principal.kind === 'role'
      ? `${principal.roleName}:local`
      : principal.kind === 'service'
        ? principal.service
        : SQS_ACCOUNT;
  return sqs.byArn(queueArn).send(body, {}, { senderId }).id;
}

/**
 * Lambda's `OnFailure` destinations to queues: the record Lambda sends when an asynchronous
 * invocation's retries ran out, sent as the function's role. `destinations` maps a function's
 * ARN to its queue; `roleOf` names its role.
 */
export function lambdaFailureDestinations(
  sqs: LocalSqs,
  access: AccessForSends,
  destinations: ReadonlyMap<string, string>,
  roleOf: (functionArn: string) => IamPrincipal | undefined,
  log: (line: string) => void,
): OnRetriesExhausted {
  return (failed) => {
    const functionArn = unqualified(failed.functionArn);
    const queueArn = destinations.get(functionArn);
    if (!queueArn) return;
    const role = roleOf(functionArn);
    if (!role) return;
    sendAs(sqs, access, role, queueArn, JSON.stringify(failureRecord(failed, functionArn)));
    log(`asynchronous invocation of ${functionArn} sent to its failure destination ${queueArn}`);
  };
}

/** The invocation record Lambda sends to a destination when the retries ran out. */
export function failureRecord(failed: ExhaustedInvocation, functionArn: string) {
  const error = failed.error;
  const functionError = error instanceof LambdaFunctionError;
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: failed.requestId,
      functionArn: `${functionArn}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: failed.attempts,
    },
    requestPayload: failed.event,
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    },
    responsePayload: functionError
      ? { errorType: error.errorType, errorMessage: error.errorMessage, trace: error.trace }
      : { errorType: (error as Error).name, errorMessage: (error as Error).message },
  };
}

function unqualified(arnOrName: string): string {
  if (!arnOrName.startsWith('arn:')) {
    return `arn:aws:lambda:${LOCAL_REGION}:${SQS_ACCOUNT}:function:${arnOrName}`;
  }
  return arnOrName.split(':').slice(0, 7).join(':');
}
