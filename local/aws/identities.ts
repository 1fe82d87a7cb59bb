/**
 * Who a signed request to a local AWS endpoint comes from. As in an account: an administrator
 * (the people and tools outside the stack: the CLI, tests, `aws` with the credentials of
 * `endpoints.json`) whose long-term keys live in the data dir (0600), and one set of temporary
 * credentials per IAM role of the template, made at each start and handed only to what runs as
 * that role (a function's processes, the state machine, the scheduler), as Lambda hands a
 * function its role's session credentials.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The caller a verified signature names. */
export type Caller =
  | { readonly kind: 'admin' }
  | {
      readonly kind: 'role';
      /** The role's logical id in the template. */
      readonly logicalId: string;
      readonly roleName: string;
      readonly arn: string;
    };

export interface Identity {
  readonly caller: Caller;
  readonly credentials: AwsCredentials;
}

/** The roles the identities are made for (logical id, physical name, ARN). */
export interface RoleDescription {
  readonly logicalId: string;
  readonly roleName: string;
  readonly arn: string;
}

/** Plain data, so the table can be handed to another thread (the DynamoDB server's). */
export type IdentityTable = ReadonlyArray<Identity>;

const ADMIN_FILE = 'admin-credentials.json';

export class LocalIdentities {
  readonly #byAccessKey = new Map<string, Identity>();
  readonly #byRole = new Map<string, Identity>();
  readonly admin: AwsCredentials;

  private constructor(table: IdentityTable) {
    let admin: AwsCredentials | undefined;
    for (const identity of table) {
      this.#byAccessKey.set(identity.credentials.accessKeyId, identity);
      if (identity.caller.kind === 'role') this.#byRole.set(identity.caller.logicalId, identity);
      else admin = identity.credentials;
    }
    if (!admin) throw new Error('An identity table holds the administrator');
    this.admin = admin;
  }

  /**
   * The administrator's keys of this data dir (made at its first start, kept 0600) and fresh
   * session credentials for each role.
   */
  static async open(dataDir: string, roles: readonly RoleDescription[]): Promise<LocalIdentities> {
    const admin = await adminCredentials(dataDir);
    return new LocalIdentities([
      { caller: { kind: 'admin' }, credentials: admin },
      ...roles.map((role) => ({
        caller: { kind: 'role' as const, ...role },
        credentials: sessionCredentials(),
      })),
    ]);
  }

  static fromTable(table: IdentityTable): LocalIdentities {
    return new LocalIdentities(table);
  }

  table(): IdentityTable {
    return [...this.#byAccessKey.values()];
  }

  byAccessKey(accessKeyId: string): Identity | undefined {
    return this.#byAccessKey.get(accessKeyId);
  }

  /** A role as a caller, by its logical id. */
  caller(logicalId: string): Extract<Caller, { kind: 'role' }> {
    const caller = this.#byRole.get(logicalId)?.caller;
    if (caller?.kind !== 'role') throw new Error(`No role ${logicalId}`);
    return caller;
  }

  /** The session credentials of a role, by its logical id. */
  forRole(logicalId: string): AwsCredentials {
    const identity = this.#byRole.get(logicalId);
    if (!identity) throw new Error(`No credentials for the role ${logicalId}`);
    return identity.credentials;
  }
}

/** How a caller is named in an AccessDenied message: the ARN (or service) AWS would print. */
export function callerArn(
  caller: Caller | { readonly kind: 'service'; readonly service: string },
  sessionName = 'local',
): string {
  if (caller.kind === 'admin') return 'arn:aws:iam::000000000000:root';
  if (caller.kind === 'service') return caller.service;
  return `arn:aws:sts::000000000000:assumed-role/${caller.roleName}/${sessionName}`;
}

/** The administrator's keys of a data dir, made (0600) at its first use. */
export async function adminCredentials(dataDir: string): Promise<AwsCredentials> {
  const file = join(dataDir, ADMIN_FILE);
  await mkdir(dataDir, { recursive: true });
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as AwsCredentials;
    if (typeof stored.accessKeyId === 'string' && typeof stored.secretAccessKey === 'string') {
      return { accessKeyId: stored.accessKeyId, secretAccessKey: stored.secretAccessKey };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const made = { accessKeyId: accessKeyId('AKIA'), secretAccessKey: secret(30) };
  // `wx`: two starts racing on a new data dir cannot both write; the loser reads the winner's.
  try {
    await writeFile(file, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return adminCredentials(dataDir);
    throw error;
  }
  return made;
}

function sessionCredentials(): AwsCredentials {
  return {
    accessKeyId: accessKeyId('ASIA'),
    secretAccessKey: secret(30),
    sessionToken: secret(96),
  };
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** AWS's shape: a four-letter prefix and 16 characters of base32. */
function accessKeyId(prefix: 'AKIA' | 'ASIA'): string {
  const bytes = randomBytes(16);
  let id = prefix;
  for (const byte of bytes) id += KEY_ALPHABET[byte % KEY_ALPHABET.length];
  return id;
}

function secret(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}
