/**
 * Reading the synthesized stack's IAM: every role with its identity policies (inline and AWS
 * managed), every resource policy with what it is attached to, intrinsics resolved as the local
 * runtime resolves them. Anything the evaluator could not read exactly is refused
 * (`UnsupportedPolicyError`), never skipped.
 *
 * Longer than the project's usual file, on purpose: it is one pass over the template, and each
 * resource type's reader (a dozen short methods) shares the pass's role table, resolver and
 * refusal rules; split apart, every reader would take them all as parameters, and a policy type
 * added here would be checked in one place for being read exactly.
 */
import { type CfnTemplate, type ResolveOptions, resolveIntrinsics } from '#infra/asl.ts';
import { UnsupportedPolicyError } from './errors.ts';
import { AWS_MANAGED_POLICIES, awsManagedPolicyName } from './managed-policies.ts';
import { arnParts, type Matcher } from './matching.ts';
import { type PolicyKind, parsePolicyDocument, type Statement } from './policy.ts';
import type { RolePrincipal } from './policy-set.ts';

export interface ResourcePolicy {
  readonly name: string;
  readonly attachedTo: Matcher;
  readonly statements: readonly Statement[];
  /**
   * The actions for which identity policies count only where this policy lets the account
   * decide: every action on a key (its key policy), assuming a role (its trust policy).
   */
  readonly authoritativeFor?: (action: string) => boolean;
}

export interface Role {
  readonly principal: RolePrincipal;
  readonly statements: Statement[];
}

/** Resource types carrying policies the evaluator does not read: their presence is refused. */
const UNREAD_POLICY_TYPES = new Set([
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::User',
  'AWS::IAM::UserPolicy',
  'AWS::IAM::Group',
  'AWS::IAM::GroupPolicy',
  'AWS::IAM::UserToGroupAddition',
  'AWS::Lambda::LayerVersionPermission',
  'AWS::Lambda::Url',
  'AWS::Events::EventBusPolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::SQS::QueueInlinePolicy',
  'AWS::SNS::TopicInlinePolicy',
  'AWS::S3::AccessPoint',
  'AWS::S3::AccessPointPolicy',
  'AWS::S3::MultiRegionAccessPointPolicy',
  'AWS::KMS::Grant',
]);

/** Properties of other resources that are policies the evaluator does not read. */
const UNREAD_POLICY_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::ApiGateway::RestApi': ['Policy'],
  'AWS::Events::EventBus': ['Policy'],
  'AWS::DynamoDB::Table': ['ResourcePolicy'],
};

const ROLE_PROPERTIES = new Set([
  'AssumeRolePolicyDocument',
  'Description',
  'ManagedPolicyArns',
  'Policies',
  'RoleName',
  'MaxSessionDuration',
  'Tags',
]);

/** Reads the template's roles and policies, resolving intrinsics as the local runtime does. */
export class TemplateLoader {
  readonly roles = new Map<string, Role>();
  readonly resourcePolicies: ResourcePolicy[] = [];
  readonly #rolesByName = new Map<string, Role>();
  readonly #template: CfnTemplate;
  readonly #options: ResolveOptions;
  readonly #region: string;
  readonly #accountId: string;

  constructor(template: CfnTemplate, options: ResolveOptions) {
    this.#template = template;
    this.#options = options;
    this.#region = options.region ?? 'us-east-1';
    this.#accountId = options.accountId ?? '000000000000';
    const resources = Object.entries(template.Resources);
    for (const [logicalId, resource] of resources) this.#refuseUnread(logicalId, resource);
    // Roles first: the policies attached to them name them.
    for (const [logicalId, resource] of resources) {
      if (resource.Type === 'AWS::IAM::Role') this.#readRole(logicalId, resource.Properties ?? {});
    }
    for (const [logicalId, resource] of resources) {
      const properties = resource.Properties ?? {};
      switch (resource.Type) {
        case 'AWS::IAM::Policy':
          this.#readAttachedPolicy(logicalId, properties);
          break;
        case 'AWS::IAM::RolePolicy':
          this.#readRolePolicy(logicalId, properties);
          break;
        case 'AWS::S3::BucketPolicy':
          this.#readBucketPolicy(logicalId, properties);
          break;
        case 'AWS::SQS::QueuePolicy':
          this.#readListedPolicy(logicalId, properties, 'Queues', 'sqs');
          break;
        case 'AWS::SNS::TopicPolicy':
          this.#readListedPolicy(logicalId, properties, 'Topics', 'sns');
          break;
        case 'AWS::Lambda::Permission':
          this.#readPermission(logicalId, properties);
          break;
        case 'AWS::SecretsManager::ResourcePolicy':
          this.#readSecretPolicy(logicalId, properties);
          break;
        case 'AWS::KMS::Key':
          this.#readKeyPolicy(logicalId, properties);
          break;
      }
    }
  }

  #refuseUnread(logicalId: string, resource: { Type: string; Properties?: unknown }): void {
    if (UNREAD_POLICY_TYPES.has(resource.Type)) {
      throw new UnsupportedPolicyError(
        { policy: logicalId },
        resource.Type,
        'carries policies the evaluator does not read',
      );
    }
    const properties = (resource.Properties ?? {}) as Record<string, unknown>;
    for (const property of UNREAD_POLICY_PROPERTIES[resource.Type] ?? []) {
      if (properties[property] !== undefined) {
        throw new UnsupportedPolicyError(
          { policy: logicalId },
          `${resource.Type}.${property}`,
          'is a policy the evaluator does not read',
        );
      }
    }
    if (resource.Type === 'AWS::DynamoDB::GlobalTable') {
      const replicas = (properties.Replicas ?? []) as Array<Record<string, unknown>>;
      const withPolicy = replicas.some(
        (replica) =>
          replica.ResourcePolicy !== undefined ||
          (replica.ReplicaStreamSpecification as Record<string, unknown> | undefined)
            ?.ResourcePolicy !== undefined,
      );
      if (withPolicy) {
        throw new UnsupportedPolicyError(
          { policy: logicalId },
          'AWS::DynamoDB::GlobalTable.Replicas.ResourcePolicy',
          'is a policy the evaluator does not read',
        );
      }
    }
  }

  #resolve(value: unknown, policy: string, element: string): unknown {
    try {
      return resolveIntrinsics(value, this.#template, this.#options);
    } catch (error) {
      throw new UnsupportedPolicyError(
        { policy },
        element,
        `cannot be resolved: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  #parse(document: unknown, policy: string, kind: PolicyKind): Statement[] {
    return parsePolicyDocument(this.#resolve(document, policy, 'PolicyDocument'), policy, kind);
  }

  #readRole(logicalId: string, properties: Record<string, unknown>): void {
    for (const property of Object.keys(properties)) {
      if (!ROLE_PROPERTIES.has(property)) {
        throw new UnsupportedPolicyError(
          { policy: logicalId },
          `AWS::IAM::Role.${property}`,
          'is not a role property the evaluator knows',
        );
      }
    }
    const roleName = String(this.#resolve({ Ref: logicalId }, logicalId, 'RoleName'));
    const arn = String(this.#resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }, logicalId, 'Arn'));
    const statements: Statement[] = [];
    const inline = (properties.Policies ?? []) as Array<Record<string, unknown>>;
    for (const { PolicyName, PolicyDocument } of inline) {
      const name = `${logicalId}.Policies.${String(this.#resolve(PolicyName, logicalId, 'Policies'))}`;
      statements.push(...this.#parse(PolicyDocument, name, 'identity'));
    }
    const managed = this.#resolve(
      properties.ManagedPolicyArns ?? [],
      logicalId,
      'ManagedPolicyArns',
    );
    for (const managedArn of managed as unknown[]) {
      const name = awsManagedPolicyName(String(managedArn));
      const document = name === undefined ? undefined : AWS_MANAGED_POLICIES[name];
      if (name === undefined || document === undefined) {
        throw new UnsupportedPolicyError(
          { policy: logicalId },
          'ManagedPolicyArns',
          `names ${String(managedArn)}, a managed policy the evaluator does not know`,
        );
      }
      statements.push(...parsePolicyDocument(document, name, 'identity'));
    }
    const role: Role = { principal: { kind: 'role', logicalId, roleName, arn }, statements };
    this.roles.set(arn, role);
    this.#rolesByName.set(roleName, role);
    const trust = `${logicalId}.AssumeRolePolicyDocument`;
    this.resourcePolicies.push({
      name: trust,
      attachedTo: (resource) => resource === arn,
      statements: this.#parse(properties.AssumeRolePolicyDocument, trust, 'trust'),
      // sts:AssumeRole, sts:TagSession…: not reading the role (iam:GetRole) or passing it.
      authoritativeFor: (action) => action.toLowerCase().startsWith('sts:'),
    });
  }

  #roleNamed(name: unknown, policy: string): Role {
    const role = this.#rolesByName.get(String(name));
    if (role === undefined) {
      throw new UnsupportedPolicyError(
        { policy },
        'Roles',
        `names ${String(name)}, which is not a role of the template`,
      );
    }
    return role;
  }

  #readAttachedPolicy(logicalId: string, properties: Record<string, unknown>): void {
    this.#onlyProperties(logicalId, 'AWS::IAM::Policy', properties, [
      'PolicyDocument',
      'PolicyName',
      'Roles',
    ]);
    const statements = this.#parse(properties.PolicyDocument, logicalId, 'identity');
    const names = this.#resolve(properties.Roles ?? [], logicalId, 'Roles') as unknown[];
    for (const name of names) this.#roleNamed(name, logicalId).statements.push(...statements);
  }

  #readRolePolicy(logicalId: string, properties: Record<string, unknown>): void {
    this.#onlyProperties(logicalId, 'AWS::IAM::RolePolicy', properties, [
      'PolicyDocument',
      'PolicyName',
      'RoleName',
    ]);
    const statements = this.#parse(properties.PolicyDocument, logicalId, 'identity');
    const name = this.#resolve(properties.RoleName, logicalId, 'RoleName');
    this.#roleNamed(name, logicalId).statements.push(...statements);
  }

  #readBucketPolicy(logicalId: string, properties: Record<string, unknown>): void {
    this.#onlyProperties(logicalId, 'AWS::S3::BucketPolicy', properties, [
      'Bucket',
      'PolicyDocument',
    ]);
    const bucket = String(this.#resolve(properties.Bucket, logicalId, 'Bucket'));
    const bucketArn = `arn:aws:s3:::${bucket}`;
    this.resourcePolicies.push({
      name: logicalId,
      // The bucket and its objects.
      attachedTo: (resource) => resource === bucketArn || resource.startsWith(`${bucketArn}/`),
      statements: this.#parse(properties.PolicyDocument, logicalId, 'resource'),
    });
  }

  #readListedPolicy(
    logicalId: string,
    properties: Record<string, unknown>,
    listProperty: 'Queues' | 'Topics',
    service: string,
  ): void {
    const type = service === 'sqs' ? 'AWS::SQS::QueuePolicy' : 'AWS::SNS::TopicPolicy';
    this.#onlyProperties(logicalId, type, properties, [listProperty, 'PolicyDocument']);
    const targets = (this.#resolve(properties[listProperty], logicalId, listProperty) ??
      []) as unknown[];
    const arns = new Set(
      targets.map((target) => {
        // A queue policy lists its queues by URL (what `Ref` of a queue is): the queue's ARN.
        const arn = service === 'sqs' ? queueArnOfUrl(String(target)) : String(target);
        if (arnParts(arn)?.[2] !== service) {
          throw new UnsupportedPolicyError(
            { policy: logicalId },
            listProperty,
            `names ${arn}, which is not an ${service} ARN`,
          );
        }
        return arn;
      }),
    );
    this.resourcePolicies.push({
      name: logicalId,
      attachedTo: (resource) => arns.has(resource),
      statements: this.#parse(properties.PolicyDocument, logicalId, 'resource'),
    });
  }

  /**
   * A `Lambda::Permission` is one statement of the function's resource policy, which Lambda
   * writes as: the principal (a service, or an account), the action, the function, and
   * `ArnLike aws:SourceArn` / `StringEquals aws:SourceAccount` for the source it names.
   */
  #readPermission(logicalId: string, properties: Record<string, unknown>): void {
    this.#onlyProperties(logicalId, 'AWS::Lambda::Permission', properties, [
      'Action',
      'FunctionName',
      'Principal',
      'SourceArn',
      'SourceAccount',
    ]);
    const resolved = this.#resolve(properties, logicalId, 'Properties') as Record<string, unknown>;
    const functionName = String(resolved.FunctionName);
    const functionArn = functionName.startsWith('arn:')
      ? functionName
      : `arn:aws:lambda:${this.#region}:${this.#accountId}:function:${functionName}`;
    if (!/^arn:[a-z-]+:lambda:[^:]*:\d{12}:function:[^:]+$/.test(functionArn)) {
      throw new UnsupportedPolicyError(
        { policy: logicalId },
        'FunctionName',
        `is ${functionName}: only an unqualified function is supported`,
      );
    }
    const principal = String(resolved.Principal);
    const condition: Record<string, Record<string, unknown>> = {};
    if (resolved.SourceArn !== undefined) {
      condition.ArnLike = { 'aws:SourceArn': resolved.SourceArn };
    }
    if (resolved.SourceAccount !== undefined) {
      condition.StringEquals = { 'aws:SourceAccount': resolved.SourceAccount };
    }
    const statement = {
      Effect: 'Allow',
      Principal: principal.includes('.') ? { Service: principal } : { AWS: principal },
      Action: resolved.Action,
      Resource: functionArn,
      ...(Object.keys(condition).length > 0 && { Condition: condition }),
    };
    this.resourcePolicies.push({
      name: logicalId,
      attachedTo: (resource) => resource === functionArn,
      statements: parsePolicyDocument({ Statement: [statement] }, logicalId, 'resource'),
    });
  }

  #readSecretPolicy(logicalId: string, properties: Record<string, unknown>): void {
    this.#onlyProperties(logicalId, 'AWS::SecretsManager::ResourcePolicy', properties, [
      'SecretId',
      'ResourcePolicy',
      'BlockPublicPolicy',
    ]);
    const secretArn = String(this.#resolve(properties.SecretId, logicalId, 'SecretId'));
    if (arnParts(secretArn)?.[2] !== 'secretsmanager') {
      throw new UnsupportedPolicyError(
        { policy: logicalId },
        'SecretId',
        `is ${secretArn}, not a secret's ARN`,
      );
    }
    this.resourcePolicies.push({
      name: logicalId,
      attachedTo: (resource) => resource === secretArn,
      statements: this.#parse(properties.ResourcePolicy, logicalId, 'resource'),
    });
  }

  /**
   * A key's policy decides who may use the key; without one, KMS gives the key its default
   * policy, which lets the account's identity policies decide.
   */
  #readKeyPolicy(logicalId: string, properties: Record<string, unknown>): void {
    const keyArn = String(this.#resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }, logicalId, 'Arn'));
    const keyPolicy = properties.KeyPolicy ?? {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.#accountId}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    };
    this.resourcePolicies.push({
      name: logicalId,
      attachedTo: (resource) => resource === keyArn,
      statements: this.#parse(keyPolicy, logicalId, 'resource'),
      authoritativeFor: () => true,
    });
  }

  #onlyProperties(
    logicalId: string,
    type: string,
    properties: Record<string, unknown>,
    known: readonly string[],
  ): void {
    for (const property of Object.keys(properties)) {
      if (!known.includes(property)) {
        throw new UnsupportedPolicyError(
          { policy: logicalId },
          `${type}.${property}`,
          'is not a property the evaluator knows',
        );
      }
    }
  }
}

/**
 * `https://sqs.<region>.amazonaws.com/<account>/<name>` as `arn:aws:sqs:<region>:<account>:<name>`;
 * anything else unchanged (and refused by the caller when it is no SQS ARN).
 */
function queueArnOfUrl(text: string): string {
  const match = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com\/(\d{12})\/([A-Za-z0-9_-]+)$/.exec(
    text,
  );
  return match ? `arn:aws:sqs:${match[1]}:${match[2]}:${match[3]}` : text;
}
