/**
 * Turns the state machine of a synthesized CloudFormation template into concrete ASL: the
 * template's `DefinitionString` is an `Fn::Join` of `Ref` / `Fn::GetAtt` tokens, resolved here to
 * stable placeholder names and ARNs derived from the logical ids. The local runtime runs this very
 * definition, so what is tested is what is deployed. The stack's IAM policies are resolved the
 * same way, so the ARNs they name are the ones the local services answer to.
 */

export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
}

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface ResolveOptions {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
}

/**
 * A logical id's stand-in name: what `Ref` of a table, function or bus resolves to. Bucket names
 * must be lower case, so theirs is.
 */
export function placeholderName(logicalId: string, type?: string): string {
  return type === 'AWS::S3::Bucket' ? logicalId.toLowerCase() : logicalId;
}

const ARN_SHAPES: Record<string, (name: string, region: string, account: string) => string> = {
  'AWS::Lambda::Function': (name, region, account) =>
    `arn:aws:lambda:${region}:${account}:function:${name}`,
  'AWS::DynamoDB::GlobalTable': (name, region, account) =>
    `arn:aws:dynamodb:${region}:${account}:table/${name}`,
  'AWS::DynamoDB::Table': (name, region, account) =>
    `arn:aws:dynamodb:${region}:${account}:table/${name}`,
  'AWS::Events::EventBus': (name, region, account) =>
    `arn:aws:events:${region}:${account}:event-bus/${name}`,
  'AWS::S3::Bucket': (name) => `arn:aws:s3:::${name}`,
  'AWS::SecretsManager::Secret': (name, region, account) =>
    `arn:aws:secretsmanager:${region}:${account}:secret:${name}`,
  'AWS::StepFunctions::StateMachine': (name, region, account) =>
    `arn:aws:states:${region}:${account}:stateMachine:${name}`,
  'AWS::SQS::Queue': (name, region, account) => `arn:aws:sqs:${region}:${account}:${name}`,
  'AWS::SNS::Topic': (name, region, account) => `arn:aws:sns:${region}:${account}:${name}`,
  'AWS::Events::Rule': (name, region, account) =>
    `arn:aws:events:${region}:${account}:rule/${name}`,
  // IAM is global: no region in its ARNs.
  'AWS::IAM::Role': (name, _region, account) => `arn:aws:iam::${account}:role/${name}`,
  'AWS::KMS::Key': (name, region, account) => `arn:aws:kms:${region}:${account}:key/${name}`,
  // A log group's `Arn` attribute ends in `:*` (its streams), as CloudFormation answers it.
  'AWS::Logs::LogGroup': (name, region, account) =>
    `arn:aws:logs:${region}:${account}:log-group:${name}:*`,
};

/** Resource types whose `Ref` is their ARN (of the others: their name or id, or a queue's URL). */
const REF_IS_ARN = new Set([
  'AWS::SecretsManager::Secret',
  'AWS::StepFunctions::StateMachine',
  'AWS::SNS::Topic',
]);

/**
 * A queue's URL, as `Ref` of an `AWS::SQS::Queue` answers it. The local runtime serves its queues
 * elsewhere and gives each function its local URL in place of this one (`local/runtime/sqs/`).
 */
export function queueUrl(name: string, region = 'us-east-1', account = '000000000000'): string {
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}

/**
 * The property that fixes the name of a resource of these types, when the template sets it.
 * Tables, buckets, functions, queues and secrets keep their placeholder names whatever the
 * template says: the local runtime creates them under those names.
 */
const FIXED_NAME_PROPERTY: Record<string, string> = {
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Events::Rule': 'Name',
  // `Ref` of a stage is its name (`v1`), which execute-api ARNs carry.
  'AWS::ApiGateway::Stage': 'StageName',
};

/**
 * Resolves the intrinsic functions a state machine definition and the stack's policies use:
 * `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select` and `Fn::Split`. Any other refuses loudly.
 */
export function resolveIntrinsics(
  value: unknown,
  template: CfnTemplate,
  options: ResolveOptions = {},
): unknown {
  const region = options.region ?? 'us-east-1';
  const account = options.accountId ?? '000000000000';
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'SparkT2i',
  };
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>);
    if (entries.length === 1) {
      const [[key, argument]] = entries as [[string, unknown]];
      if (key === 'Ref') return ref(String(argument));
      if (key === 'Fn::GetAtt') return getAtt(argument);
      if (key === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        if (typeof separator !== 'string' || !Array.isArray(parts)) {
          throw new Error(`Fn::Join takes [separator, [parts]], got ${JSON.stringify(argument)}`);
        }
        return parts.map((part) => String(resolve(part))).join(separator);
      }
      if (key === 'Fn::Split') {
        const [separator, source] = argument as [string, unknown];
        const text = resolve(source);
        if (typeof separator !== 'string' || typeof text !== 'string') {
          throw new Error(`Fn::Split takes [separator, string], got ${JSON.stringify(argument)}`);
        }
        return text.split(separator);
      }
      if (key === 'Fn::Select') {
        const [index, source] = argument as [unknown, unknown];
        const list = resolve(source);
        const position = Number(index);
        if (!Array.isArray(list) || !Number.isInteger(position) || position < 0) {
          throw new Error(`Fn::Select takes [index, [list]], got ${JSON.stringify(argument)}`);
        }
        if (position >= list.length) {
          throw new Error(`Fn::Select index ${position} is beyond a list of ${list.length}`);
        }
        return list[position];
      }
      // Anything else would pass through as an object and end up as "[object Object]" in a
      // joined string: refuse it, so a new intrinsic in the definition fails loudly here.
      if (key.startsWith('Fn::')) {
        throw new Error(
          `${key} is not supported (only Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split)`,
        );
      }
    }
    return Object.fromEntries(entries.map(([key, child]) => [key, resolve(child)]));
  };
  const ref = (name: string): string => {
    if (name in pseudo) return pseudo[name] as string;
    const resource = template.Resources[name];
    if (resource === undefined) throw new Error(`Ref to unknown resource ${name}`);
    if (REF_IS_ARN.has(resource.Type)) return arnOf(name, resource);
    if (resource.Type === 'AWS::SQS::Queue')
      return queueUrl(nameOf(name, resource), region, account);
    return nameOf(name, resource);
  };
  const getAtt = (argument: unknown): string => {
    const [name, attribute] = (typeof argument === 'string' ? argument.split('.') : argument) as [
      string,
      string,
    ];
    const resource = template.Resources[name];
    if (resource === undefined) throw new Error(`Fn::GetAtt of unknown resource ${name}`);
    if (attribute === 'Arn' || attribute === 'TopicArn') return arnOf(name, resource);
    if (attribute === 'QueueUrl' && resource.Type === 'AWS::SQS::Queue') {
      return queueUrl(nameOf(name, resource), region, account);
    }
    if (['Name', 'QueueName', 'TopicName', 'KeyId'].includes(attribute)) {
      return nameOf(name, resource);
    }
    throw new Error(`Fn::GetAtt ${name}.${attribute} is not supported`);
  };
  const arnOf = (name: string, resource: CfnResource): string => {
    const shape = ARN_SHAPES[resource.Type];
    if (shape === undefined) throw new Error(`No ARN shape for ${resource.Type} (${name})`);
    const bus = resource.Properties?.EventBusName;
    if (resource.Type === 'AWS::Events::Rule' && bus !== undefined) {
      // A rule on another bus is named under it: `rule/<bus>/<name>` (the bus given by name or ARN).
      const busName = String(resolve(bus)).split(':event-bus/').pop() as string;
      if (busName !== 'default') {
        return `arn:aws:events:${region}:${account}:rule/${busName}/${nameOf(name, resource)}`;
      }
    }
    return shape(nameOf(name, resource), region, account);
  };
  // A name fixed in the template is the resource's real name (resolved: it may be made of the
  // stack's name).
  const nameOf = (name: string, resource: CfnResource): string => {
    const property = FIXED_NAME_PROPERTY[resource.Type];
    const fixed = property === undefined ? undefined : resource.Properties?.[property];
    return fixed === undefined ? placeholderName(name, resource.Type) : String(resolve(fixed));
  };
  return resolve(value);
}

/** The logical ids of the template's state machines. */
export function stateMachineLogicalIds(template: CfnTemplate): string[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId]) => logicalId);
}

/** The concrete ASL of a state machine in the template (the only one when no id is given). */
export function extractStateMachineDefinition(
  template: CfnTemplate,
  logicalId?: string,
  options: ResolveOptions = {},
): Record<string, unknown> {
  const ids = stateMachineLogicalIds(template);
  const id = logicalId ?? ids[0];
  if (id === undefined || (logicalId === undefined && ids.length !== 1)) {
    throw new Error(`Expected one state machine in the template, found ${ids.length}`);
  }
  const properties = template.Resources[id]?.Properties ?? {};
  const definition = properties.DefinitionString ?? properties.Definition;
  const resolved = resolveIntrinsics(definition, template, options);
  return (typeof resolved === 'string' ? JSON.parse(resolved) : resolved) as Record<
    string,
    unknown
  >;
}
