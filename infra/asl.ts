/**
 * Turns the state machine of a synthesized CloudFormation template into concrete ASL: the
 * template's `DefinitionString` is an `Fn::Join` of `Ref` / `Fn::GetAtt` tokens, resolved here to
 * stable placeholder names and ARNs derived from the logical ids. The local runtime runs this very
 * definition, so what is tested is what is deployed.
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
};

/** Resolves the intrinsic functions a state machine definition uses. */
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
      // Anything else would pass through as an object and end up as "[object Object]" in a
      // joined string: refuse it, so a new intrinsic in the definition fails loudly here.
      if (key.startsWith('Fn::')) {
        throw new Error(
          `${key} is not supported in a state machine definition (only Fn::Join, Ref and Fn::GetAtt)`,
        );
      }
    }
    return Object.fromEntries(entries.map(([key, child]) => [key, resolve(child)]));
  };
  const ref = (name: string): string => {
    if (name in pseudo) return pseudo[name] as string;
    const resource = template.Resources[name];
    if (resource === undefined) throw new Error(`Ref to unknown resource ${name}`);
    // Ref of these resource types is their ARN; of the others, their name.
    if (
      [
        'AWS::SecretsManager::Secret',
        'AWS::StepFunctions::StateMachine',
        'AWS::SQS::Queue',
      ].includes(resource.Type)
    ) {
      return arnOf(name, resource);
    }
    return placeholderName(name, resource.Type);
  };
  const getAtt = (argument: unknown): string => {
    const [name, attribute] = (typeof argument === 'string' ? argument.split('.') : argument) as [
      string,
      string,
    ];
    const resource = template.Resources[name];
    if (resource === undefined) throw new Error(`Fn::GetAtt of unknown resource ${name}`);
    if (attribute === 'Arn') return arnOf(name, resource);
    if (attribute === 'Name' || attribute === 'QueueName') return nameOf(name, resource);
    throw new Error(`Fn::GetAtt ${name}.${attribute} is not supported`);
  };
  const arnOf = (name: string, resource: CfnResource): string => {
    const shape = ARN_SHAPES[resource.Type];
    if (shape === undefined) throw new Error(`No ARN shape for ${resource.Type} (${name})`);
    return shape(nameOf(name, resource), region, account);
  };
  // A name fixed in the template (a state machine's, so far) is the resource's real name.
  const nameOf = (name: string, resource: CfnResource): string => {
    const fixed = (resource.Properties as { StateMachineName?: unknown } | undefined)
      ?.StateMachineName;
    return typeof fixed === 'string' ? fixed : placeholderName(name, resource.Type);
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
