import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { defineCommand, UsageError } from '#local/cli/args.ts';
import { localApiKeyStore, requireRunningRuntime } from '#local/cli/client/target.ts';
import { ApiKeyStore, hashApiKey, InvalidOwnerError } from '#shared/api/keys.ts';
import { ownerSchema } from '#shared/generation/model.ts';

const usage = `Usage: spark-t2i keys create --owner NAME [--table TABLE [--region R] | --data-dir DIR]
       spark-t2i keys revoke (--hash SHA256 | --key KEY) [--table TABLE [--region R] | --data-dir DIR]

Creates an API key for an owner, or revokes one. A key is shown once, when it is made: only its
SHA-256 is stored. Without --table it acts on the local runtime serving the data dir (its
DynamoDB); with --table (the stack's ApiKeysTableName output) on AWS, with the default AWS
credentials.

Options:
  --owner NAME           owner of the new key: 1-63 of a-z, 0-9, _ and -, starting with a letter
                         or digit; the owner sees only its own generations
  --hash SHA256          the key to revoke, by its SHA-256 (hex)
  --key KEY              the key to revoke (hashed here)
  --table TABLE          the deployed API keys table
  --region R             its region (default: the AWS default chain's)
  --data-dir DIR         the local runtime's data dir (default .spark-t2i)
  -h, --help             show this help

keys create prints the key alone on stdout (the warning goes to stderr), so it can be captured:
  KEY=$(npx spark-t2i keys create --owner alice)`;

export const keysCommand = defineCommand({
  name: 'keys',
  summary: 'create or revoke API keys (local or deployed)',
  usage,
  options: {
    owner: { type: 'string' },
    key: { type: 'string' },
    hash: { type: 'string' },
    table: { type: 'string' },
    region: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  async run({ values, positionals }) {
    const [action, ...extra] = positionals;
    if (action !== 'create' && action !== 'revoke') {
      throw new UsageError('say "keys create --owner NAME" or "keys revoke --hash H"');
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (values.table !== undefined && values['data-dir'] !== undefined) {
      throw new UsageError('give --table (deployed) or --data-dir (local), not both');
    }
    if (values.region !== undefined && values.table === undefined) {
      throw new UsageError('--region goes with --table');
    }

    if (action === 'create') {
      if (values.owner === undefined) throw new UsageError('keys create needs --owner NAME');
      if (values.key !== undefined || values.hash !== undefined) {
        throw new UsageError('keys create makes its own key: --key and --hash are for revoke');
      }
      if (!ownerSchema.safeParse(values.owner).success) {
        throw new UsageError(
          `--owner must be 1-63 characters of a-z, 0-9, _ and -, starting with a letter or digit, got "${values.owner}"`,
        );
      }
      const { store, where } = await storeFor(values.table, values.region, values['data-dir']);
      let created: Awaited<ReturnType<ApiKeyStore['create']>>;
      try {
        created = await store.create(values.owner);
      } catch (error) {
        if (error instanceof InvalidOwnerError) throw new UsageError(error.message);
        throw error;
      }
      console.log(created.key);
      console.error(
        `This API key of owner "${created.owner}" is shown only now: store it safely, it cannot be shown again (${where}; SHA-256 ${created.keyHash}).`,
      );
      return 0;
    }

    if (values.owner !== undefined)
      throw new UsageError('keys revoke takes --hash or --key, not --owner');
    if ((values.hash === undefined) === (values.key === undefined)) {
      throw new UsageError('keys revoke needs --hash SHA256 or --key KEY (one of them)');
    }
    const hash = values.hash?.toLowerCase() ?? hashApiKey(values.key as string);
    if (!/^[0-9a-f]{64}$/.test(hash)) {
      throw new UsageError(`--hash must be 64 hex digits (a SHA-256), got "${values.hash}"`);
    }
    const { store, where } = await storeFor(values.table, values.region, values['data-dir']);
    if (!(await store.revoke(hash))) throw new Error(`no API key with SHA-256 ${hash} (${where})`);
    console.log(`revoked ${hash}`);
    console.error(
      `Revoked (${where}). A deployed API Gateway may accept it until its authorizer cache expires.`,
    );
    return 0;
  },
});

async function storeFor(
  table: string | undefined,
  region: string | undefined,
  dataDir: string | undefined,
): Promise<{ store: ApiKeyStore; where: string }> {
  if (table !== undefined) {
    const client = new DynamoDBClient(region ? { region } : {});
    return {
      store: new ApiKeyStore(DynamoDBDocumentClient.from(client), table),
      where: `table ${table}`,
    };
  }
  const local = await requireRunningRuntime(dataDir);
  return {
    store: localApiKeyStore(local),
    where: `local runtime in ${local.dataDir}`,
  };
}
