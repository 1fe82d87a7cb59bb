import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface ObservabilityProps {
  readonly stateMachine: StateMachine;
  /** Functions watched for errors and throttles, by a readable name. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /**
   * Those of `functions` that throw on a provider or download error which the workflow then
   * retries (CreateTask, PollTask, CopyImages): one error is a blip, so they page on their share
   * of failing invocations instead of on any error. @default none
   */
  readonly retriedByWorkflow?: readonly string[];
  readonly restApi: RestApi;
  readonly deadLetterQueue: IQueue;
  /** Webhook deliveries given up on (docs/decisions.md D40). @default none */
  readonly webhookDeadLetterQueue?: IQueue;
  /** Subscribed to the alarm topic when given. @default none */
  readonly alarmEmail?: string;
}

/** The share of ended executions (%) that failed at which ExecutionsFailing pages. */
const FAILED_SHARE_PERCENT = 20;

/** Errors in a period below which a retried step's share of errors does not page. */
const RETRIED_ERRORS_MIN = 5;

/** The share of a retried step's invocations (%) that failed at which it pages. */
const RETRIED_ERROR_SHARE_PERCENT = 20;

/**
 * Alarms on what users would notice: generations failing in numbers, timed-out executions, function errors
 * and throttles, API 5xx, and anything in the dead-letter queue. All go to one SNS topic.
 */
export class Observability extends Construct {
  public readonly alarmTopic: Topic;
  /** The alarm topic's encryption key (customer managed: CloudWatch cannot use `aws/sns`). */
  public readonly alarmTopicKey: Key;
  public readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const account = Stack.of(this).account;
    // Alarm actions are CloudWatch publishing in this account's name, never anyone else's.
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisAccount = { StringEquals: { 'aws:SourceAccount': account } };
    // Encrypted at rest with a key of our own (docs/decisions.md D27): the AWS-managed `aws/sns`
    // key's policy cannot be changed, and CloudWatch, which is not allowed to use it, would fail
    // every alarm's publish.
    this.alarmTopicKey = new Key(this, 'AlarmsKey', {
      description: 'spark-t2i alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.alarmTopicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccount,
      }),
    );
    this.alarmTopic = new Topic(this, 'Alarms', {
      displayName: 'spark-t2i alarms',
      enforceSSL: true,
      masterKey: this.alarmTopicKey,
    });
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: fromThisAccount,
      }),
    );
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));

    const period = Duration.minutes(5);
    // One failed generation is a user's answer (a refused prompt, an image over the limit), not
    // an outage: this pages when at least 5 failed and they are a fifth or more of those that
    // ended in the period. Aborted executions are not alarmed on: every cancel of a started
    // generation stops its execution, and an execution stopped by anyone else leaves its record
    // to the reconciler, which fails it with its code.
    this.#alarm(
      'ExecutionsFailing',
      new MathExpression({
        expression: 'IF(failed >= 5, 100 * failed / (failed + succeeded), 0)',
        usingMetrics: {
          failed: props.stateMachine.metricFailed({ period }),
          succeeded: props.stateMachine.metricSucceeded({ period }),
        },
        label: 'Failed executions, % of those that ended',
        period,
      }),
      'At least 5 generation executions failed, a fifth or more of those that ended',
      FAILED_SHARE_PERCENT,
    );
    this.#alarm(
      'ExecutionsTimedOut',
      props.stateMachine.metricTimedOut({ period }),
      'Generation executions timed out (backstop timeout reached)',
    );
    const retried = new Set(props.retriedByWorkflow ?? []);
    for (const name of retried) {
      if (props.functions[name] === undefined) throw new Error(`No function ${name} to alarm on`);
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      if (retried.has(name)) {
        // A provider blip fails one invocation and the workflow retries it; the generation only
        // fails after its retries, which ExecutionsFailing watches. This pages when the step
        // fails in numbers (the provider down, a broken deployment), not on each blip.
        this.#alarm(
          `${name}Errors`,
          new MathExpression({
            expression: `IF(errors >= ${RETRIED_ERRORS_MIN}, 100 * errors / invocations, 0)`,
            usingMetrics: {
              errors: fn.metricErrors({ period }),
              invocations: fn.metricInvocations({ period }),
            },
            label: `${name} errors, % of its invocations`,
            period,
          }),
          `${name} failed at least ${RETRIED_ERRORS_MIN} times, a fifth or more of its invocations (each is retried by the workflow)`,
          RETRIED_ERROR_SHARE_PERCENT,
        );
      } else {
        this.#alarm(`${name}Errors`, fn.metricErrors({ period }), `${name} function errors`);
      }
      this.#alarm(`${name}Throttles`, fn.metricThrottles({ period }), `${name} function throttled`);
    }
    this.#alarm('Api5xx', props.restApi.metricServerError({ period }), 'The API answered 5xx');
    this.#alarm(
      'DeadLetters',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period }),
      'Prompt-file events or schedule firings could not be delivered',
    );
    if (props.webhookDeadLetterQueue !== undefined) {
      this.#alarm(
        'WebhookDeadLetters',
        props.webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period }),
        'Webhook deliveries were given up after 24 h of attempts, or kept failing',
      );
    }
  }

  #alarm(id: string, metric: IMetric, description: string, threshold = 1): void {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: description,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }
}
