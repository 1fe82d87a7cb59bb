import { Duration } from 'aws-cdk-lib';
import {
  AuthorizationType,
  type IResource,
  LambdaIntegration,
  type Method,
  type RequestValidator,
} from 'aws-cdk-lib/aws-apigateway';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ConsoleSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { PipelineFunction } from './pipeline-function.ts';

export interface ConsoleRoutesProps {
  readonly root: IResource;
  readonly validator: RequestValidator;
  /** The bucket whose pre-signed image URLs the page shows (its content security policy). */
  readonly imagesBucket: IBucket;
  /** Adds the 405 answer of the methods a resource does not have. */
  readonly answerOtherMethods: (resource: IResource, allowed: string) => void;
}

export interface ConsoleRoutes {
  readonly function: PipelineFunction;
  /** The two public methods (`GET /`, `GET /console/{file}`). */
  readonly methods: readonly Method[];
}

/**
 * The console (docs/decisions.md D35): a page served by the API itself, from a function whose
 * bundle carries the page's files. Public, as a web page is: it holds no data, and everything
 * it shows comes through the authorised routes with the user's key. The function has no grant
 * but its logs and tracing.
 */
export function addConsoleRoutes(scope: Construct, props: ConsoleRoutesProps): ConsoleRoutes {
  const fn = new PipelineFunction(scope, 'Console', {
    entryPoint: 'console',
    description: 'GET / and GET /console/{file}: the web console page (no data, no grants)',
    timeout: Duration.seconds(10),
    memorySize: 128,
    environment: environmentOf(ConsoleSettings, { imagesBucket: props.imagesBucket.bucketName }),
  });
  const open = {
    authorizationType: AuthorizationType.NONE,
    requestValidator: props.validator,
  };
  const integration = new LambdaIntegration(fn);
  const page = props.root.addMethod('GET', integration, open);
  const files = props.root.addResource('console').addResource('{file}');
  const file = files.addMethod('GET', integration, {
    ...open,
    requestParameters: { 'method.request.path.file': true },
  });
  props.answerOtherMethods(props.root, 'GET');
  props.answerOtherMethods(files, 'GET');
  return { function: fn, methods: [page, file] };
}
