/**
 * Invocations made inside the runtime (no HTTP request to sign), authorised as AWS authorises
 * them: the state machine invokes its functions as its role; S3, EventBridge and API Gateway
 * invoke a function as a service principal, allowed only by the function's resource policy (its
 * `AWS::Lambda::Permission`s) for the source ARN they act for.
 */

import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import { type AccessOptions, authorize } from '#local/aws/access.ts';
import type { IamPrincipal } from '#local/iam/policy-set.ts';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

export interface Invoker {
  invoke(arnOrName: string, event: unknown): Promise<unknown>;
}

/** Lambda's refusal, as Step Functions and the SDK name it. */
export class LambdaAccessDeniedError extends Error {
  override readonly name = 'Lambda.AWSLambdaException';
}

/**
 * The invoker `principal` has: each invocation first authorised for `lambda:InvokeFunction` on
 * the (unqualified) function ARN, with the source the caller acts for.
 */
export function invokerAs(
  lambda: Invoker,
  access: Pick<AccessOptions, 'gate' | 'onDenied' | 'onDecision'>,
  principal: IamPrincipal,
  sourceOf: (event: unknown) => string | undefined = () => undefined,
): Invoker {
  if (!access.gate) return lambda;
  return {
    invoke(arnOrName, event) {
      const sourceArn = sourceOf(event);
      const refusal = authorize(
        access,
        principal,
        [
          {
            action: 'lambda:InvokeFunction',
            resource: unqualifiedFunctionArn(arnOrName),
            ...(sourceArn && {
              context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': ACCOUNT },
            }),
          },
        ],
        'json',
      );
      if (refusal) return Promise.reject(new LambdaAccessDeniedError(refusal.message));
      return lambda.invoke(arnOrName, event);
    },
  };
}

export function unqualifiedFunctionArn(arnOrName: string): string {
  if (!arnOrName.startsWith('arn:')) {
    return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${arnOrName}`;
  }
  return arnOrName.split(':').slice(0, 7).join(':');
}

/**
 * The source ARN API Gateway invokes with: `…:<api>/<stage>/<METHOD>/<path>` for a method,
 * `…:<api>/authorizers/<id>` for its authorizer (told apart by the event's shape).
 */
export function apiGatewaySource(template: CfnTemplate): (event: unknown) => string | undefined {
  const idOf = (type: string) =>
    Object.entries(template.Resources).find(([, resource]) => resource.Type === type)?.[0];
  const api = idOf('AWS::ApiGateway::RestApi');
  const authorizer = idOf('AWS::ApiGateway::Authorizer');
  if (!api) return () => undefined;
  const prefix = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${String(resolveIntrinsics({ Ref: api }, template))}`;
  const authorizerArn = authorizer
    ? `${prefix}/authorizers/${String(resolveIntrinsics({ Ref: authorizer }, template))}`
    : undefined;
  return (event) => {
    const request = event as {
      type?: string;
      httpMethod?: string;
      requestContext?: { stage?: string; resourcePath?: string; httpMethod?: string };
    };
    if (request.type === 'REQUEST' || request.type === 'TOKEN') return authorizerArn;
    const context = request.requestContext;
    if (!context?.stage || !context.resourcePath) return undefined;
    return `${prefix}/${context.stage}/${context.httpMethod ?? request.httpMethod}${context.resourcePath}`;
  };
}
