import { Duration } from 'aws-cdk-lib';
import { type IResource, LambdaIntegration, type MethodOptions } from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { WebhookRouteSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';

export interface WebhookRoutesProps {
  readonly root: IResource;
  /** `/generations/{id}`, under which the deliveries are listed. */
  readonly generation: IResource;
  /** The authorizer and validator every authorised method has. */
  readonly authorised: MethodOptions;
  /** Where each owner's signing secret is kept, beside its keys. */
  readonly apiKeysTable: ITableV2;
  readonly generationsTable: ITableV2;
  readonly sdkOnFirstUse: string[];
  /** Adds the 405 answer of the methods a resource does not have. */
  readonly answerOtherMethods: (resource: IResource, allowed: string) => void;
}

export interface WebhookRouteFunctions {
  readonly webhookSecret: PipelineFunction;
  readonly listDeliveries: PipelineFunction;
}

/**
 * The webhook routes of the API: the owner's signing secret (`/webhooks/secret`, read and
 * rotated by one function) and a generation's delivery attempts (`/generations/{id}/deliveries`),
 * each granted only what its code calls.
 */
export function addWebhookRoutes(
  scope: Construct,
  props: WebhookRoutesProps,
): WebhookRouteFunctions {
  const webhookSecret = new PipelineFunction(scope, 'WebhookSecret', {
    entryPoint: 'webhook-secret',
    sdkOnFirstUse: props.sdkOnFirstUse,
    description: "GET /webhooks/secret, POST /webhooks/secret/rotate: the owner's signing secret",
    timeout: Duration.seconds(10),
    environment: environmentOf(WebhookRouteSettings.secret, {
      apiKeysTable: props.apiKeysTable.tableName,
    }),
  });
  // Read, made on the first read (a conditional put), rotated (a conditional update); only the
  // secret's own item (`webhook-secret#<owner>`), never a key's.
  allow(
    webhookSecret,
    ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    [props.apiKeysTable.tableArn],
    { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['webhook-secret#*'] } },
  );

  const listDeliveries = new PipelineFunction(scope, 'ListDeliveries', {
    entryPoint: 'list-deliveries',
    sdkOnFirstUse: props.sdkOnFirstUse,
    description: "GET /generations/{id}/deliveries: the generation's webhook delivery attempts",
    timeout: Duration.seconds(10),
    environment: environmentOf(WebhookRouteSettings.deliveries, {
      generationsTable: props.generationsTable.tableName,
    }),
  });
  allow(listDeliveries, ['dynamodb:GetItem'], [props.generationsTable.tableArn]);

  const webhooks = props.root.addResource('webhooks');
  const secret = webhooks.addResource('secret');
  secret.addMethod('GET', new LambdaIntegration(webhookSecret), props.authorised);
  const rotate = secret.addResource('rotate');
  rotate.addMethod('POST', new LambdaIntegration(webhookSecret), props.authorised);
  const deliveries = props.generation.addResource('deliveries');
  deliveries.addMethod('GET', new LambdaIntegration(listDeliveries), {
    ...props.authorised,
    requestParameters: { 'method.request.path.id': true },
  });
  for (const [resource, allowed] of [
    [secret, 'GET'],
    [rotate, 'POST'],
    [deliveries, 'GET'],
  ] as const) {
    props.answerOtherMethods(resource, allowed);
  }
  return { webhookSecret, listDeliveries };
}
