/**
 * The synthesized stack's IAM, as AWS evaluates it within one account: every role with its
 * identity policies, every resource policy with what it is attached to, and the decision for one
 * request.
 *
 * - An explicit `Deny` in any policy that applies (the caller's identity policies, the resource's
 *   policies whose principal names the caller) refuses the request.
 * - Otherwise an `Allow` in an identity policy, or in a resource policy naming the caller, allows
 *   it; nothing allowing it is an implicit deny.
 * - Service principals (`s3.amazonaws.com` notifying a function) have no identity policies: only
 *   resource policies can allow them.
 * - The account's administrator (people and tests, with the credentials the local runtime lists)
 *   may do anything that no resource policy denies.
 * - A resource policy naming the account (not a role) lets the account's identity policies
 *   decide; it allows nobody by itself. Key policies and role trust policies must allow, directly
 *   or by naming the account: an identity policy alone never reaches a key or assumes a role.
 *
 * Pure: no I/O. The local services authenticate callers, turn their requests into an action, a
 * resource ARN and condition keys, and ask `authorize`.
 */
import { type CfnTemplate, type ResolveOptions, resolveIntrinsics } from '../../infra/asl.ts';
import { CONDITION_KEYS, type RequestContext } from './conditions.ts';
import {
  InvalidAuthorizationRequestError,
  RoleNotFoundError,
  UnsupportedPolicyError,
} from './errors.ts';
import { AWS_MANAGED_POLICIES, awsManagedPolicyName } from './managed-policies.ts';
import { arnParts, isAction, type Matcher } from './matching.ts';
import {
  type PolicyKind,
  type PrincipalSpec,
  parsePolicyDocument,
  type Statement,
} from './policy.ts';

/** A role of the stack: what a function, the state machine or a schedule acts as. */
export interface RolePrincipal {
  readonly kind: 'role';
  readonly logicalId: string;
  /** Its name locally (the template's `RoleName`, or its placeholder). */
  readonly roleName: string;
  readonly arn: string;
}

/** The account's administrator: people and tests, signing with the listed local credentials. */
export interface AdminPrincipal {
  readonly kind: 'admin';
}

/** A service acting on its own behalf: `s3.amazonaws.com`, `events.amazonaws.com`… */
export interface ServicePrincipal {
  readonly kind: 'service';
  readonly service: string;
}

export type IamPrincipal = RolePrincipal | AdminPrincipal | ServicePrincipal;

export const ADMINISTRATOR: AdminPrincipal = { kind: 'admin' };

export type ContextValue = string | boolean | readonly string[];

export interface AuthorizationRequest {
  readonly principal: IamPrincipal;
  /** `service:Action`, as IAM names it: `s3:GetObject`, `dynamodb:UpdateItem`. */
  readonly action: string;
  /** The resource's ARN, or `*` for actions on no resource (`xray:PutTraceSegments`). */
  readonly resource: string;
  /** Condition keys (`dynamodb:LeadingKeys`, `aws:SourceArn`…), over `DEFAULT_CONTEXT`. */
  readonly context?: Readonly<Record<string, ContextValue>>;
}

export interface StatementRef {
  readonly policy: string;
  readonly index: number;
  readonly sid?: string;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: 'explicit-deny' | 'allowed' | 'implicit-deny';
  /** The statement that denied or allowed (none for an implicit deny or the administrator). */
  readonly statement?: StatementRef;
}

/**
 * Condition keys every local request carries unless it says otherwise. `aws:SecureTransport`:
 * on AWS the SDKs always speak TLS, and the stack's `enforceSSL` policies deny whoever does not;
 * the local endpoints speak plain HTTP on 127.0.0.1, which is no caller's choice, so a local
 * request counts as the TLS request it would be on AWS.
 */
export const DEFAULT_CONTEXT: Readonly<Record<string, ContextValue>> = {
  'aws:SecureTransport': true,
};

interface ResourcePolicy {
  readonly name: string;
  readonly attachedTo: Matcher;
  readonly statements: readonly Statement[];
  /**
   * The actions for which identity policies count only where this policy lets the account
   * decide: every action on a key (its key policy), assuming a role (its trust policy).
   */
  readonly authoritativeFor?: (action: string) => boolean;
}

interface Role {
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

/** The stack's policies, ready to answer requests. */
export class PolicySet {
  readonly #accountId: string;
  readonly #template: CfnTemplate;
  readonly #options: ResolveOptions;
  readonly #roles: ReadonlyMap<string, Role>;
  readonly #resourcePolicies: readonly ResourcePolicy[];

  private constructor(
    template: CfnTemplate,
    options: ResolveOptions,
    roles: ReadonlyMap<string, Role>,
    resourcePolicies: readonly ResourcePolicy[],
  ) {
    this.#template = template;
    this.#options = options;
    this.#accountId = options.accountId ?? '000000000000';
    this.#roles = roles;
    this.#resourcePolicies = resourcePolicies;
  }

  /**
   * Reads every policy of a synthesized template, with its intrinsics resolved to local names
   * and ARNs. Throws `UnsupportedPolicyError` on anything it could not evaluate exactly.
   */
  static fromTemplate(template: CfnTemplate, options: ResolveOptions = {}): PolicySet {
    const loader = new TemplateLoader(template, options);
    return new PolicySet(template, options, loader.roles, loader.resourcePolicies);
  }

  /** Every role of the stack. */
  roles(): readonly RolePrincipal[] {
    return [...this.#roles.values()].map((role) => role.principal);
  }

  /** The role a function runs as. */
  roleForFunction(functionLogicalId: string): RolePrincipal {
    return this.#roleOf(functionLogicalId, 'AWS::Lambda::Function', (p) => p.Role);
  }

  /** The role a state machine's direct integrations and task invocations act as. */
  roleForStateMachine(stateMachineLogicalId: string): RolePrincipal {
    return this.#roleOf(
      stateMachineLogicalId,
      'AWS::StepFunctions::StateMachine',
      (p) => p.RoleArn,
    );
  }

  /** The role a schedule's target is called with (its `Target.RoleArn`). */
  roleForSchedule(scheduleLogicalId: string): RolePrincipal {
    return this.#roleOf(
      scheduleLogicalId,
      'AWS::Scheduler::Schedule',
      (p) => (p.Target as { RoleArn?: unknown } | undefined)?.RoleArn,
    );
  }

  /** Whether the principal may take the action on the resource, and which statement says so. */
  authorize(request: AuthorizationRequest): Decision {
    const { principal, action, resource } = request;
    if (!isAction(action)) {
      throw new InvalidAuthorizationRequestError(`${action} is not an action (service:Action)`);
    }
    if (resource !== '*' && arnParts(resource) === undefined) {
      throw new InvalidAuthorizationRequestError(`${resource} is neither * nor an ARN`);
    }
    const identity = this.#identityStatements(principal);
    const context = normalizeContext({ ...DEFAULT_CONTEXT, ...request.context });
    const applies = (statement: Statement) =>
      statement.matchesAction(action) &&
      statement.matchesResource(resource) &&
      statement.conditionsHold(context);

    const attached = this.#resourcePolicies.filter((policy) => policy.attachedTo(resource));
    const naming = (statements: readonly Statement[], accountCounts: boolean) =>
      statements.filter((statement) => {
        const match = principalMatch(statement.principal, principal, this.#accountId);
        return match === 'direct' || (accountCounts && match === 'account');
      });
    // A Deny naming the account denies everyone in it.
    const resourceStatements = attached.flatMap((policy) => naming(policy.statements, true));

    const deny = [...identity, ...resourceStatements].find(
      (statement) => statement.effect === 'Deny' && applies(statement),
    );
    if (deny !== undefined) return decision('explicit-deny', deny);

    const authoritative = attached.filter((policy) => policy.authoritativeFor?.(action));
    // Where a key or trust policy is attached, the account's identities get only what it lets
    // the account have.
    const accountMayDecide = authoritative.every((policy) =>
      naming(policy.statements, true).some(
        (statement) => statement.effect === 'Allow' && applies(statement),
      ),
    );
    const resourceAllow = attached
      .flatMap((policy) => naming(policy.statements, false))
      .find((statement) => statement.effect === 'Allow' && applies(statement));
    if (resourceAllow !== undefined) return decision('allowed', resourceAllow);
    if (principal.kind === 'admin' && accountMayDecide) return { allowed: true, reason: 'allowed' };
    const identityAllow = identity.find(
      (statement) => statement.effect === 'Allow' && applies(statement),
    );
    if (identityAllow !== undefined && accountMayDecide) return decision('allowed', identityAllow);
    return { allowed: false, reason: 'implicit-deny' };
  }

  #identityStatements(principal: IamPrincipal): readonly Statement[] {
    if (principal.kind === 'service') {
      if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/.test(principal.service)) {
        throw new InvalidAuthorizationRequestError(
          `${principal.service} is not a service principal`,
        );
      }
      return [];
    }
    if (principal.kind === 'admin') return [];
    const role = this.#roles.get(principal.arn);
    if (role === undefined) {
      throw new InvalidAuthorizationRequestError(`${principal.arn} is not a role of the stack`);
    }
    return role.statements;
  }

  #roleOf(
    logicalId: string,
    type: string,
    roleProperty: (properties: Record<string, unknown>) => unknown,
  ): RolePrincipal {
    const resource = this.#template.Resources[logicalId];
    if (resource?.Type !== type) {
      throw new RoleNotFoundError(`${logicalId} is not an ${type} of the template`);
    }
    const written = roleProperty(resource.Properties ?? {});
    if (written === undefined) throw new RoleNotFoundError(`${logicalId} has no role`);
    const arn = String(resolveIntrinsics(written, this.#template, this.#options));
    const role = this.#roles.get(arn);
    if (role === undefined) {
      throw new RoleNotFoundError(`${logicalId}'s role ${arn} is not a role of the template`);
    }
    return role.principal;
  }
}

function decision(reason: 'explicit-deny' | 'allowed', statement: Statement): Decision {
  return {
    allowed: reason === 'allowed',
    reason,
    statement: {
      policy: statement.policy,
      index: statement.index,
      ...(statement.sid !== undefined && { sid: statement.sid }),
    },
  };
}

/**
 * How a resource policy statement's principal covers the caller: `direct` (named, or everyone),
 * `account` (the caller's account is named, which lets identity policies decide).
 */
function principalMatch(
  spec: PrincipalSpec | undefined,
  principal: IamPrincipal,
  accountId: string,
): 'direct' | 'account' | undefined {
  if (spec === undefined) return undefined;
  if (spec.anyone) return 'direct';
  switch (principal.kind) {
    case 'role':
      if (spec.roleArns.has(principal.arn)) return 'direct';
      return spec.accounts.has(accountId) ? 'account' : undefined;
    case 'admin':
      // The administrator stands for the account (its root).
      return spec.accounts.has(accountId) ? 'direct' : undefined;
    case 'service':
      return spec.services.has(principal.service) ? 'direct' : undefined;
  }
}

function normalizeContext(context: Readonly<Record<string, ContextValue>>): RequestContext {
  const normalized = new Map<string, ContextValue>();
  for (const [key, value] of Object.entries(context)) {
    const lower = key.toLowerCase();
    const definition = CONDITION_KEYS[lower];
    if (definition === undefined) {
      throw new InvalidAuthorizationRequestError(
        `${key} is not a condition key the policies can use`,
      );
    }
    if (definition.type === 'bool') {
      if (typeof value !== 'boolean') {
        throw new InvalidAuthorizationRequestError(`${key} takes true or false`);
      }
    } else if (definition.multiValued) {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((item) => typeof item === 'string')) {
        throw new InvalidAuthorizationRequestError(`${key} takes a list of strings`);
      }
      normalized.set(lower, list as readonly string[]);
      continue;
    } else if (typeof value !== 'string') {
      throw new InvalidAuthorizationRequestError(`${key} takes one string`);
    }
    normalized.set(lower, value);
  }
  return normalized;
}

/** Reads the template's roles and policies, resolving intrinsics as the local runtime does. */
class TemplateLoader {
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
        const arn = String(target);
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
