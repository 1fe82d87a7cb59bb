/**
 * IAM in the local runtime is real: every call the stack makes is authorised against the
 * synthesized policies, a call no policy allows is refused with the service's AccessDenied, and
 * the grants the stack has are the ones its calls need.
 *
 * The grant-removal proof: one runtime runs the product's paths (HTTP generation, idempotent
 * retry, read, list, prompt file, schedule) with every IAM decision audited; then each grant of
 * a sample across the functions, the state machine and the scheduler is removed from the
 * template, and the run's own calls are decided again by the evaluator the endpoints use. Each
 * removal must refuse at least one of them: the run would have failed there.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditedAccess } from '#local/aws/access.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { iamGate } from '#local/iam/gate.ts';
import { startLocalStorage } from '#local/runtime/storage.ts';
import type { CfnTemplate } from '../../infra/asl.ts';
import {
  adminRoute,
  type ServedRuntime,
  serve,
  submit,
  waitFor,
  waitForTerminal,
} from '../helpers/serve.ts';

let runtime: ServedRuntime;
let audit: AuditedAccess[];
let template: CfnTemplate;

describe('IAM enforced by the local runtime', () => {
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spark-t2i-iam-'));
    const auditFile = join(dir, 'iam-audit.jsonl');
    runtime = await serve({ simLatencyMs: 100, args: ['--iam-audit', auditFile] });
    const template_ = JSON.parse(
      await readFile(join(runtime.endpoints.functions.assets, 'SparkT2i.template.json'), 'utf8'),
    ) as CfnTemplate;
    template = template_;

    // The product's paths, each through the real stack.
    const id = await submit(runtime, { prompt: 'a lighthouse', width: 512, height: 512 });
    expect((await waitForTerminal(runtime, id, 60_000)).status).toBe('completed');
    expect((await runtime.api(`/generations/${id}`)).status).toBe(200);
    expect((await runtime.api('/generations')).status).toBe(200);
    const keyed = {
      method: 'POST',
      headers: { 'idempotency-key': `iam-${Date.now()}` },
      body: JSON.stringify({ prompt: 'asked twice' }),
    };
    const first = await runtime.api('/generations', keyed);
    const again = await runtime.api('/generations', keyed);
    expect([first.status, again.status]).toEqual([202, expect.any(Number)]);
    const key = 'prompts/local/iam.txt';
    await runtime.s3().send(
      new PutObjectCommand({
        Bucket: runtime.endpoints.s3.inputBucket,
        Key: key,
        Body: 'a red kite\na blue kite\n',
      }),
    );
    await waitFor(
      'the prompt file report',
      () =>
        runtime
          .s3()
          .send(
            new GetObjectCommand({
              Bucket: runtime.endpoints.s3.inputBucket,
              Key: 'reports/prompts/local/iam.txt.json',
            }),
          )
          .then(() => true),
      60_000,
    );
    const fired = await adminRoute(runtime, '/__local/schedules/daily-sample/trigger', {
      method: 'POST',
    });
    const { id: scheduled } = (await fired.json()) as { id: string };
    expect((await waitForTerminal(runtime, scheduled, 60_000)).status).toBe('completed');
    await runtime.stop();
    audit = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditedAccess);
    await rm(dir, { recursive: true, force: true });
  }, 240_000);

  afterAll(async () => {
    await runtime?.stop();
  });

  it('allows every call the product makes, and logs no AccessDenied', () => {
    expect(runtime.output()).not.toMatch(/AccessDenied/);
    expect(audit.filter((decided) => !decided.allowed)).toEqual([]);
    // Functions, the state machine, the scheduler and services (S3, API Gateway) all called.
    const principals = new Set(
      audit.map((decided) =>
        decided.principal.kind === 'role'
          ? decided.principal.logicalId.replace(/[0-9A-F]{8}$/, '')
          : decided.principal.kind === 'service'
            ? decided.principal.service
            : 'admin',
      ),
    );
    expect([...principals]).toEqual(
      expect.arrayContaining(['s3.amazonaws.com', 'apigateway.amazonaws.com']),
    );
    expect(principals.size).toBeGreaterThan(8);
  });

  it.each([
    ['ApiSubmitGeneration', 'dynamodb:PutItem'],
    ['ApiSubmitGeneration', 'dynamodb:GetItem'],
    ['ApiSubmitGeneration', 'states:StartExecution'],
    ['ApiGetGeneration', 'dynamodb:GetItem'],
    ['ApiListGenerations', 'dynamodb:Query'],
    ['ApiAuthorizer', 'dynamodb:GetItem'],
    ['StepsCreateTask', 'secretsmanager:GetSecretValue'],
    ['StepsCopyImages', 's3:PutObject'],
    ['StepsAcquireSlot', 'dynamodb:UpdateItem'],
    ['TriggersPromptFile', 's3:GetObject'],
    ['TriggersPromptFile', 'states:StartExecution'],
    ['state machine', 'lambda:InvokeFunction'],
    ['state machine', 'dynamodb:UpdateItem'],
    ['TriggersScheduleFiring', 'states:StartExecution'],
    ['scheduler', 'lambda:InvokeFunction'],
  ])('removing the grant of %s for %s refuses a call the run made', (owner, action) => {
    const role = roleOf(template, owner);
    const used = audit.filter(
      (decided) =>
        decided.principal.kind === 'role' &&
        decided.principal.logicalId === role &&
        decided.action === action,
    );
    expect(used.length).toBeGreaterThan(0);
    const gate = iamGate(withoutGrant(template, role, action));
    const refused = used.filter((decided) => !gate(decided.principal, decided).allowed);
    expect(refused.length).toBeGreaterThan(0);
  });
});

describe('a call no policy allows', () => {
  it('is refused by the endpoint with the service’s own AccessDenied', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'spark-t2i-iam-deny-'));
    const role = {
      logicalId: 'ReaderRole',
      roleName: 'ReaderRole',
      arn: 'arn:aws:iam::000000000000:role/ReaderRole',
    };
    const small: CfnTemplate = {
      Resources: {
        Things: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          },
        },
        Files: { Type: 'AWS::S3::Bucket' },
        ReaderRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: trust() } },
        ReaderPolicy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'reader',
            Roles: [{ Ref: 'ReaderRole' }],
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::files/*' },
              ],
            },
          },
        },
      },
    };
    const identities = await LocalIdentities.open(dataDir, [role]);
    const storage = await startLocalStorage({
      dataDir,
      template: small,
      access: { identities, gate: iamGate(small), iam: { template: small } },
    });
    const credentials = identities.forRole('ReaderRole');
    const s3 = new S3Client({
      endpoint: storage.s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
    });
    const dynamodb = new DynamoDBClient({
      endpoint: storage.dynamodbEndpoint,
      region: 'us-east-1',
      credentials,
    });
    try {
      await expect(
        s3.send(new PutObjectCommand({ Bucket: 'files', Key: 'a.txt', Body: 'x' })),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
      // What the policy allows passes the door (and the object is simply not there).
      await expect(
        s3.send(new GetObjectCommand({ Bucket: 'files', Key: 'a.txt' })),
      ).rejects.toMatchObject({ name: 'NoSuchKey' });
      await expect(
        dynamodb.send(new GetItemCommand({ TableName: 'Things', Key: { id: { S: '1' } } })),
      ).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining('dynamodb:GetItem'),
      });
    } finally {
      s3.destroy();
      dynamodb.destroy();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

function trust() {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'lambda.amazonaws.com' },
      },
    ],
  };
}

/** The role a part of the stack runs as: a function (by logical id prefix), the state machine, the scheduler. */
function roleOf(template: CfnTemplate, owner: string): string {
  const resources = Object.entries(template.Resources);
  const roleArn = (() => {
    if (owner === 'state machine') {
      return resources.find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')?.[1]
        .Properties?.RoleArn;
    }
    if (owner === 'scheduler') {
      const target = resources.find(([, r]) => r.Type === 'AWS::Scheduler::Schedule')?.[1]
        .Properties?.Target as { RoleArn?: unknown } | undefined;
      return target?.RoleArn;
    }
    return resources.find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(owner),
    )?.[1].Properties?.Role;
  })() as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const role = roleArn?.['Fn::GetAtt']?.[0];
  if (!role) throw new Error(`no role for ${owner}`);
  return role;
}

/** The template with `action` taken out of every statement of the role's own policies. */
function withoutGrant(template: CfnTemplate, role: string, action: string): CfnTemplate {
  const copy = structuredClone(template) as CfnTemplate;
  let removed = 0;
  for (const resource of Object.values(copy.Resources)) {
    const properties = resource.Properties as Record<string, unknown> | undefined;
    const documents: Array<{ Statement: Array<Record<string, unknown>> }> = [];
    if (
      resource.Type === 'AWS::IAM::Policy' &&
      (properties?.Roles as Array<{ Ref?: string }> | undefined)?.some((ref) => ref.Ref === role)
    ) {
      documents.push(properties?.PolicyDocument as never);
    }
    if (resource.Type === 'AWS::IAM::Role' && copy.Resources[role] === resource) {
      for (const policy of (properties?.Policies as Array<{ PolicyDocument: never }>) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      document.Statement = document.Statement.flatMap((statement) => {
        const actions = [statement.Action].flat() as string[];
        if (!actions.includes(action)) return [statement];
        removed += 1;
        const kept = actions.filter((candidate) => candidate !== action);
        return kept.length === 0 ? [] : [{ ...statement, Action: kept }];
      });
    }
  }
  if (removed === 0) throw new Error(`the role ${role} has no grant of ${action}`);
  return copy;
}
