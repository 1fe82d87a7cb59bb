import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  ContentHandling,
  EndpointType,
  GatewayResponse,
  type IAuthorizer,
  type IResource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  MockIntegration,
  PassthroughBehavior,
  RequestValidator,
  ResponseType,
  RestApi,
  TokenAuthorizer,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BEARER_TOKEN_PATTERN } from '#shared/api/bearer.ts';
import { JSON_CONTENT_TYPE, SECURITY_HEADERS } from '#shared/api/responses.ts';
import { ApiRouteSettings } from '#shared/contracts/environment.ts';
import { environmentOf } from '#shared/contracts/setting.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { GenerationsTableSchema } from '#shared/generation/model.ts';
import { addBatchRoutes, type BatchFunctions } from './batch-routes.ts';
import { addConsoleRoutes, type ConsoleRoutes } from './console-routes.ts';
import { allow } from './grants.ts';
import { PipelineFunction } from './pipeline-function.ts';
import { addWebhookRoutes, type WebhookRouteFunctions } from './webhook-routes.ts';

export interface GenerationApiProps {
  readonly generationsTable: ITableV2;
  readonly batchesTable: ITableV2;
  /** Where prompt files are read from: the batch routes store and sign uploads there. */
  readonly inputBucket: IBucket;
  /** The prompt-file size limit, the largest upload a batch may announce. */
  readonly promptFileMaxBytes: number;
  readonly apiKeysTable: ITableV2;
  readonly idempotencyTable: ITableV2;
  readonly imagesBucket: IBucket;
  readonly stateMachine: IStateMachine;
  readonly eventBus: IEventBus;
  /** Steady-state requests per second of the whole API. */
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Lifetime of the pre-signed image URLs in answers. */
  readonly presignedUrlTtl: Duration;
  /** How long API Gateway caches the authorizer's answer for a key. */
  readonly authorizerCacheTtl: Duration;
  /** Largest `metadata` object, in bytes of JSON. */
  readonly metadataMaxBytes: number;
  /** Days a generation record is kept (its `expiresAt`), for the routes that write records. */
  readonly recordRetentionDays: number;
  readonly logRetention: RetentionDays;
}

/**
 * Answer bodies of API Gateway's own errors, in the API's one error shape. A status replaces the
 * one API Gateway would answer; DEFAULT_4XX keeps it (it catches every 4xx type not listed here).
 */
const GATEWAY_ERRORS: ReadonlyArray<[string, ResponseType, string | undefined, string]> = [
  ['Unauthorized', ResponseType.UNAUTHORIZED, '401', ErrorCodes.API_UNAUTHORIZED],
  ['AccessDenied', ResponseType.ACCESS_DENIED, '401', ErrorCodes.API_UNAUTHORIZED],
  // REST APIs answer an unknown route as a missing token; it is a 404 to callers.
  ['NoRoute', ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', ErrorCodes.API_NOT_FOUND],
  ['ResourceNotFound', ResponseType.RESOURCE_NOT_FOUND, '404', ErrorCodes.API_NOT_FOUND],
  ['TooLarge', ResponseType.REQUEST_TOO_LARGE, '413', ErrorCodes.API_BODY_TOO_LARGE],
  ['Throttled', ResponseType.THROTTLED, '429', ErrorCodes.API_THROTTLED],
  ['QuotaExceeded', ResponseType.QUOTA_EXCEEDED, '429', ErrorCodes.API_THROTTLED],
  [
    'UnsupportedMedia',
    ResponseType.UNSUPPORTED_MEDIA_TYPE,
    '415',
    ErrorCodes.API_UNSUPPORTED_MEDIA_TYPE,
  ],
  ['Default4xx', ResponseType.DEFAULT_4XX, undefined, ErrorCodes.API_REQUEST_REFUSED],
  ['Default5xx', ResponseType.DEFAULT_5XX, '500', ErrorCodes.API_INTERNAL_ERROR],
];

/**
 * Headers of API Gateway's own answers (gateway responses, the 405 mock): the handlers' security
 * headers, from the same list, so every answer carries the same set. Static values are written
 * single-quoted; API Gateway takes what is between the first and the last quote.
 */
const GATEWAY_STATIC_HEADERS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries({ ...SECURITY_HEADERS, 'content-type': JSON_CONTENT_TYPE }).map(
    ([name, value]) => [name, `'${value}'`],
  ),
);

/**
 * The HTTP API (docs/openapi.json) on API Gateway REST: a Lambda token authorizer for
 * `Authorization: Bearer` keys (stored hashed), one function per route, stage throttling, access
 * logs and tracing. Every route but `GET /openapi.json` and the console page's is authorised.
 */
export class GenerationApi extends Construct {
  public readonly restApi: RestApi;
  public readonly authorizerFunction: PipelineFunction;
  public readonly submitFunction: PipelineFunction;
  public readonly getFunction: PipelineFunction;
  public readonly listFunction: PipelineFunction;
  public readonly cancelFunction: PipelineFunction;
  public readonly openApiFunction: PipelineFunction;
  public readonly batchFunctions: BatchFunctions;
  /** The signing secret's and the delivery attempts' functions (docs/decisions.md D40). */
  public readonly webhookFunctions: WebhookRouteFunctions;
  /** The console page's function and its public routes (`GET /`, `GET /console/{file}`). */
  public readonly console: ConsoleRoutes;
  public readonly accessLogGroup: LogGroup;
  /** The random value list cursors are signed with, generated by Secrets Manager at deploy. */
  public readonly cursorSecret: Secret;

  constructor(scope: Construct, id: string, props: GenerationApiProps) {
    super(scope, id);
    const generationsTable = props.generationsTable.tableName;
    const stateMachineArn = props.stateMachine.stateMachineArn;
    // Pre-signed GETs are signed with the function's own credentials.
    const images = props.imagesBucket.arnForObjects('images/*');
    const presignedUrlTtlSeconds = props.presignedUrlTtl.toSeconds();
    // The generations routes start, stop and announce executions, and sign image URLs, on some
    // requests only; those clients are imported on first use (shared/aws/lazy.ts, presign.ts).
    const sdkOnFirstUse = [
      '@aws-sdk/client-sfn',
      '@aws-sdk/client-eventbridge',
      '@aws-sdk/client-s3',
      '@aws-sdk/s3-request-presigner',
    ];

    this.authorizerFunction = new PipelineFunction(this, 'Authorizer', {
      entryPoint: 'authorizer',
      description: 'Resolves a Bearer API key to its owner',
      timeout: Duration.seconds(10),
      environment: environmentOf(ApiRouteSettings.authorizer, {
        apiKeysTable: props.apiKeysTable.tableName,
      }),
    });
    allow(this.authorizerFunction, ['dynamodb:GetItem'], [props.apiKeysTable.tableArn]);

    this.submitFunction = new PipelineFunction(this, 'SubmitGeneration', {
      entryPoint: 'submit-generation',
      sdkOnFirstUse,
      description:
        'POST /generations: validates, records the generation queued, starts its execution',
      timeout: Duration.seconds(15),
      environment: environmentOf(ApiRouteSettings.submit, {
        generationsTable,
        stateMachineArn,
        idempotencyTable: props.idempotencyTable.tableName,
        metadataMaxBytes: props.metadataMaxBytes,
        recordRetentionDays: props.recordRetentionDays,
      }),
    });
    // A put records the generation; a keyed retry reads the one an earlier attempt recorded
    // (`#carryOn`); an update marks one whose workflow could not start.
    allow(
      this.submitFunction,
      ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [props.generationsTable.tableArn],
    );
    allow(
      this.submitFunction,
      ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      [props.idempotencyTable.tableArn],
    );
    props.stateMachine.grantStartExecution(this.submitFunction);

    this.getFunction = new PipelineFunction(this, 'GetGeneration', {
      entryPoint: 'get-generation',
      sdkOnFirstUse,
      description: "GET /generations/{id}: the owner's generation, with pre-signed image URLs",
      timeout: Duration.seconds(10),
      environment: environmentOf(ApiRouteSettings.get, {
        generationsTable,
        presignedUrlTtlSeconds,
      }),
    });
    allow(this.getFunction, ['dynamodb:GetItem'], [props.generationsTable.tableArn]);
    allow(this.getFunction, ['s3:GetObject'], [images]);

    this.cursorSecret = new Secret(this, 'CursorSecret', {
      description:
        'spark-t2i: signs the list cursors of GET /generations (random, generated at deploy; never set by hand)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    this.listFunction = new PipelineFunction(this, 'ListGenerations', {
      entryPoint: 'list-generations',
      sdkOnFirstUse,
      description:
        "GET /generations: the owner's generations, newest first (a Query, never a Scan)",
      timeout: Duration.seconds(10),
      environment: environmentOf(ApiRouteSettings.list, {
        generationsTable,
        presignedUrlTtlSeconds,
        cursorSecretId: this.cursorSecret.secretArn,
      }),
    });
    // Its value only: the role needs no DescribeSecret (grantRead would add it).
    allow(this.listFunction, ['secretsmanager:GetSecretValue'], [this.cursorSecret.secretArn]);
    allow(
      this.listFunction,
      ['dynamodb:Query'],
      [
        GenerationsTableSchema.byOwnerIndex.name,
        GenerationsTableSchema.byOwnerStatusIndex.name,
      ].map((index) => `${props.generationsTable.tableArn}/index/${index}`),
    );
    allow(this.listFunction, ['s3:GetObject'], [images]);

    this.cancelFunction = new PipelineFunction(this, 'CancelGeneration', {
      entryPoint: 'cancel-generation',
      sdkOnFirstUse,
      description:
        'DELETE /generations/{id}: stops the execution and records the generation cancelled',
      timeout: Duration.seconds(15),
      environment: environmentOf(ApiRouteSettings.cancel, {
        generationsTable,
        presignedUrlTtlSeconds,
        stateMachineArn,
        eventBusName: props.eventBus.eventBusName,
        recordRetentionDays: props.recordRetentionDays,
      }),
    });
    allow(
      this.cancelFunction,
      ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      [props.generationsTable.tableArn],
    );
    props.stateMachine.grantExecution(this.cancelFunction, 'states:StopExecution');
    props.eventBus.grantPutEventsTo(this.cancelFunction);
    allow(this.cancelFunction, ['s3:GetObject'], [images]);

    this.openApiFunction = new PipelineFunction(this, 'OpenApi', {
      entryPoint: 'openapi',
      description: 'GET /openapi.json: the OpenAPI document generated from the schemas',
      timeout: Duration.seconds(10),
      memorySize: 128,
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.restApi = new RestApi(this, 'RestApi', {
      // Names need not be unique, but two stacks' APIs should be told apart in the console.
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'spark-t2i: text-to-image generations',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Every request body reaches the function as the bytes the caller sent (base64), not as
      // text API Gateway has decoded: a body that is not UTF-8 is the handler's to refuse (400),
      // which it cannot tell once malformed bytes were replaced. The functions answer text
      // (isBase64Encoded false), which API Gateway passes through unchanged.
      binaryMediaTypes: ['*/*'],
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    for (const [name, type, statusCode, code] of GATEWAY_ERRORS) {
      new GatewayResponse(this, `${name}Response`, {
        restApi: this.restApi,
        type,
        ...(statusCode !== undefined && { statusCode }),
        responseHeaders: GATEWAY_STATIC_HEADERS,
        // $context.error.messageString is already a quoted JSON string: it goes in unquoted.
        templates: {
          'application/json': `{"error":{"code":"${code}","message":$context.error.messageString}}`,
        },
      });
    }

    const authorizer: IAuthorizer = new TokenAuthorizer(this, 'KeyAuthorizer', {
      handler: this.authorizerFunction,
      identitySource: 'method.request.header.Authorization',
      // Refuses what cannot be a Bearer key before the authorizer runs (no invocation, no cost);
      // any key the store holds passes, whatever its length or characters, and the scheme's name
      // in any case (RFC 9110). The authorizer reads the header the same way.
      validationRegex: BEARER_TOKEN_PATTERN,
      resultsCacheTtl: props.authorizerCacheTtl,
    });
    const validator = new RequestValidator(this, 'ParameterValidator', {
      restApi: this.restApi,
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    const authorised = {
      authorizer,
      authorizationType: AuthorizationType.CUSTOM,
      requestValidator: validator,
    };

    const generations = this.restApi.root.addResource('generations');
    generations.addMethod('POST', new LambdaIntegration(this.submitFunction), authorised);
    generations.addMethod('GET', new LambdaIntegration(this.listFunction), authorised);
    const generation = generations.addResource('{id}');
    const withId = { ...authorised, requestParameters: { 'method.request.path.id': true } };
    generation.addMethod('GET', new LambdaIntegration(this.getFunction), withId);
    generation.addMethod('DELETE', new LambdaIntegration(this.cancelFunction), withId);
    this.batchFunctions = addBatchRoutes(this, {
      ...props,
      root: this.restApi.root,
      authorised,
      cursorSecret: this.cursorSecret,
      presignedUrlTtlSeconds,
      sdkOnFirstUse,
      answerOtherMethods,
    });
    this.webhookFunctions = addWebhookRoutes(this, {
      root: this.restApi.root,
      generation,
      authorised,
      apiKeysTable: props.apiKeysTable,
      generationsTable: props.generationsTable,
      sdkOnFirstUse,
      answerOtherMethods,
    });
    const openApi = this.restApi.root.addResource('openapi.json');
    openApi.addMethod('GET', new LambdaIntegration(this.openApiFunction), {
      authorizationType: AuthorizationType.NONE,
      requestValidator: validator,
    });
    this.console = addConsoleRoutes(this, {
      root: this.restApi.root,
      validator,
      imagesBucket: props.imagesBucket,
      answerOtherMethods,
    });
    for (const [resource, allowed] of [
      [generations, 'GET, POST'],
      [generation, 'GET, DELETE'],
      [openApi, 'GET'],
    ] as const) {
      answerOtherMethods(resource, allowed);
    }
  }

  /** The `ANY` methods that answer 405 for the methods a resource does not have. */
  get methodNotAllowedMethods() {
    return this.restApi.methods.filter((method) => method.httpMethod === 'ANY');
  }

  /** The functions of the API, for alarms. */
  get functions(): PipelineFunction[] {
    return [
      this.authorizerFunction,
      this.submitFunction,
      this.getFunction,
      this.listFunction,
      this.cancelFunction,
      this.openApiFunction,
      ...Object.values(this.batchFunctions),
      ...Object.values(this.webhookFunctions),
      this.console.function,
    ];
  }
}

/**
 * A resource's other methods answer 405 with its `Allow` header, from API Gateway itself (a mock
 * integration on `ANY`; the resource's own methods take precedence over it).
 */
function answerOtherMethods(resource: IResource, allowed: string): void {
  const headers = { ...GATEWAY_STATIC_HEADERS, Allow: `'${allowed}'` };
  resource.addMethod(
    'ANY',
    new MockIntegration({
      passthroughBehavior: PassthroughBehavior.NEVER,
      // Every body is binary to this API (binaryMediaTypes */*): as text, the template applies.
      contentHandling: ContentHandling.CONVERT_TO_TEXT,
      requestTemplates: { 'application/json': '{"statusCode": 405}' },
      integrationResponses: [
        {
          statusCode: '405',
          responseTemplates: {
            'application/json': JSON.stringify({
              error: {
                code: ErrorCodes.API_METHOD_NOT_ALLOWED,
                message: `Method not allowed; allowed: ${allowed}`,
              },
            }),
          },
          responseParameters: Object.fromEntries(
            Object.entries(headers).map(([name, value]) => [
              `method.response.header.${name}`,
              value,
            ]),
          ),
        },
      ],
    }),
    {
      authorizationType: AuthorizationType.NONE,
      methodResponses: [
        {
          statusCode: '405',
          responseParameters: Object.fromEntries(
            Object.keys(headers).map((name) => [`method.response.header.${name}`, true]),
          ),
        },
      ],
    },
  );
}
